// The commented starter config `xiota init` writes (also examples/xiota.yaml). It must load
// without errors as written (a test checks), so every active line is a working value and the
// optional ones are commented out with their meaning.

export function starterConfig(): string {
  return STARTER;
}

const STARTER = `# xiota configuration. Keys are checked at startup: a typo or a wrong type is reported
# with its line. Check it with:  xiota check --config /etc/xiota/xiota.yaml
# Durations ending in _s are seconds, _ms milliseconds; "30s", "5m", "200ms" work too.

account:
  # The device's own XMPP account (create it on your server first).
  # A resource may be given here (gateway@example.org/kitchen) or below.
  jid: gateway@example.org
  # resource: kitchen                # a fixed resource; default: the server picks one (XEP-0386
                                     # Bind 2: one round trip less), else xiota-<hostname>
  # The password comes from ONE of these; a file (mode 600) or the environment keeps it out
  # of this file. Under systemd, LoadCredential= puts it in $CREDENTIALS_DIRECTORY; run by
  # hand, the fallback after :- is used (as in the shell):
  password_file: \${CREDENTIALS_DIRECTORY:-/etc/xiota}/password
  # password_env: XIOTA_PASSWORD
  # password: "..."                  # works, but warns: prefer a file or the environment
  # Derived SCRAM keys (RFC 5802) instead of a password; the server's salt and iterations:
  # scram_keys:
  #   - { hash: SHA-256, salt: <base64>, iterations: 4096, client_key: <base64>, server_key: <base64> }

server:
  # Without host, the SRV records of the JID's domain are looked up (RFC 6120 3.2).
  # host: xmpp.example.org
  # port: 5222                       # 5222 for STARTTLS; the direct TLS port with direct_tls
  direct_tls: false                  # XEP-0368: TLS from the first byte

tls:
  # ca_file: /etc/xiota/ca.pem       # trust this CA instead of the system store
  # pin_sha256: []                   # base64 SHA-256 of the server's SubjectPublicKeyInfo
  # servername: example.org          # SNI / certificate name; default the JID's domain
  # client_cert: /etc/xiota/client.pem   # both for SASL EXTERNAL (certificate login)
  # client_key: /etc/xiota/client.key

sasl:
  allow_plain: false                 # PLAIN sends the password itself; only ever over TLS
  # mechanisms: [SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1-PLUS, SCRAM-SHA-1]

session:
  stream_management: true            # XEP-0198: resume after a drop without losing stanzas
  ping_interval_s: 60                # XEP-0199 ping after this long without traffic (5..3600)
  ping_timeout_s: 20                 # no answer this long: the link is dead, reconnect
  ack_request_every: 32              # ask the server for an ack after this many stanzas...
  ack_interval_s: 30                 # ...or after this long with stanzas unacknowledged
  max_stanza_bytes: 262144           # larger incoming stanzas close the stream
  connect_timeout_s: 20
  reconnect:                         # exponential backoff with jitter
    initial_delay_s: 1
    max_delay_s: 60
    stable_after_s: 60               # a session up this long resets the backoff

access:
  # Who may do what. Roles nest: an owner may do everything a controller may, and so on.
  # Entries are bare JIDs, or @domain for every account of that domain.
  owners: [you@example.org]          # PUT YOUR OWN JID HERE: approves followers, gets alerts
  controllers: []                    # read, and set writable fields (switch the fan)
  readers: []                        # read values, follow the presence, see PubSub items
  strangers: refuse                  # refuse | ask_owners (owners get a chat message to allow or deny)

presence:
  status: online
  priority: 0                        # -128..127 (RFC 6121 4.7.2.3)
  show_readings: true                # put the latest readings in the status text: 22.5 °C · 41 % · fan off
  # status_template: "{greenhouse.temperature} · fan {greenhouse.fan}"   # your own line instead
  min_interval_s: 60                 # update the status at most this often (only when it changes)

alerts:
  # Chat messages to the owners (or to the JIDs in a rule's to:), kept by the server while
  # they are offline. A rule: field, then one of above/below (numbers), changes: true or
  # fault: true (the sensor fails); for_s: how long before it counts; hysteresis: how far back
  # past the threshold before "resolved"; repeat_s: while it lasts (default 14400, 0 = never).
  group_s: 30                        # alerts within this window go in one message
  max_per_hour: 20                   # messages per person; then one "N more suppressed" note
  # rules:
  #   - { field: greenhouse.temperature, above: 30, for_s: 60, hysteresis: 1, name: too hot }
  #   - { field: greenhouse.fan, changes: true, to: [alice@example.org] }
  #   - { field: greenhouse.humidity, fault: true, for_s: 120 }

outbox:
  # Readings not yet acknowledged by the server are kept here across restarts and power cuts.
  # The directory above it is the agent's state directory (history/, fast-token.json,
  # scheduled readouts, alert switches, things a flow declared, discovery state): give each
  # agent on a machine its own.
  dir: /var/lib/xiota/outbox         # systemd's StateDirectory=xiota
  max_bytes: 67108864                # 64 MiB; the oldest readings go first when full
  flush_interval_ms: 200

# history:                           # the device's own history, beside the outbox (XEP-0323 historical*, chat and ad-hoc history)
#   enabled: true
#   retention: { raw: 2d, minute: 30d, hour: 365d, day: 3650d }   # or one duration for every level
#   rollups: [minute, hour, day]
#   max_bytes: 134217728             # 128 MiB; the finest, oldest data goes first when full

# api:                               # the local API for scripts, Node-RED and xiota status|set|read --follow (agent/api/PROTOCOL.md)
#   socket: /run/xiota/api.sock      # default: $RUNTIME_DIRECTORY/api.sock, /run/xiota/api.sock, else api.sock in outbox.dir
#   mode: "0660"                     # the socket's permission is the credential
#   group: xiota                     # members of this group may use it
#   role: owner                      # what a client may do: owner | controller | reader

# provisioning:                      # XEP-0324: ask a provisioning server about JIDs access: does not list
#   service: provisioning.example.org   # a component address, or an account (prov@example.org: befriended first)
#   fallback: refuse                 # when it does not answer: refuse, or local (the access: lists decide)

# discovery:                         # XEP-0347: register in a Thing Registry; xiota claim prints the claim URI and QR code
#   registry: auto                   # or the registry's component address or account
#   register_things: false           # true: each thing behind the gateway too (xiota claim --thing ID)
#   tags: { MAN: example.com, MODEL: gw-1, SN: "0042" }

pubsub:
  service: pep                       # pep = the account's own PEP; or pubsub.example.org
  node_prefix: "urn:xiota:"          # node name = prefix + thing id
  max_items: 100
  persist_items: true
  access_model: presence             # open | presence | roster | authorize | whitelist
  send_last_published_item: on_sub_and_presence   # never | on_sub | on_sub_and_presence

publish:
  # Default policy for every field; override per thing or field under things:.
  deadband: 0                        # a numeric change smaller than this is no change
  min_interval_s: 0                  # publish a thing at most this often
  max_interval_s: 300                # republish unchanged values this often (0 = never)
  batch_s: 0                         # on a link paid by the byte: readings wait up to this long and share one item (10: ~1.1x MQTT's bytes)
  # max_readings_per_item: 16        # readings already waiting share an item (default 16; 64 with batch_s; 1: never)

drivers:
  # Every driver has a unique id and a kind: simulated | linux | w1 | iio | serial | mqtt | bridge.
  - id: sim
    kind: simulated
    poll_interval_s: 5
    options:
      seed: 1
      things:
        - id: greenhouse
          name: Simulated greenhouse
          fields:
            - { name: temperature, type: numeric, unit: "°C", precision: 1, waveform: sine, min: 15, max: 25, period_s: 600 }
            - { name: humidity, type: numeric, unit: "%", precision: 0, waveform: random, min: 40, max: 60 }
            - { name: fan, type: boolean, writable: true, initial: false }
  - id: host
    kind: linux                      # CPU temperature and load, memory, disk of this board
    poll_interval_s: 30
  # 1-Wire temperature sensors (DS18B20), from /sys/bus/w1/devices:
  # - id: onewire
  #   kind: w1
  #   poll_interval_s: 30
  # Industrial I/O sensors (BME280, ...), from /sys/bus/iio/devices:
  # - id: iio
  #   kind: iio
  # A board running the xiota firmware bridge (firmware-bridge/README.md), paired first
  # (xiota bridge pair greenhouse-1):
  # - id: board
  #   kind: bridge
  #   options:
  #     path: /dev/ttyACM0               # or mqtt://broker:1883
  #     board: greenhouse-1
  # A microcontroller or GPS printing lines on a serial port (its own firmware):
  # - id: esp32
  #   kind: serial
  #   options:
  #     path: /dev/ttyUSB0
  #     baud_rate: 115200
  #     protocol: json                 # nmea (GPS) | json | kv (key=value lines)
  #     fields:
  #       - { name: temperature, type: numeric, unit: "°C", path: bme.t }
  #       - { name: relay, type: boolean, writable: true }
  # Readings from an MQTT broker:
  # - id: mqtt
  #   kind: mqtt
  #   options:
  #     url: "mqtt://127.0.0.1:1883"
  #     things:
  #       - id: plug
  #         topic: tele/plug/SENSOR     # Tasmota JSON payloads
  #         fields:
  #           - { name: power, type: numeric, unit: W, path: ENERGY.Power }
  #           - { name: relay, type: boolean, writable: true, topic: stat/plug/POWER, command_topic: cmnd/plug/POWER }

things:
  # Per-thing overrides, keyed by thing id:
  # greenhouse:
  #   node: greenhouse-climate       # full node name instead of node_prefix + id
  #   service: pubsub.example.org
  #   publish: { deadband: 0.5, min_interval_s: 10, max_interval_s: 600, fields: { humidity: { deadband: 2 } } }
  #   pubsub: { max_items: 10, access_model: open }

log:
  level: info                        # debug | info | warn | error
  format: auto                       # auto = JSON lines when not on a terminal; json | text
`;
