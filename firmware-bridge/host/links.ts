// The byte links a board session runs over. Serial: a stream of COBS frames. MQTT (Wi-Fi
// boards): each frame is one binary payload (no COBS: MQTT delimits messages; the CRC stays),
// the board publishes on `<prefix>/<board>/up` and the host on `<prefix>/<board>/down`, QoS 1.
// QoS 1 may deliver twice and a reconnect may reorder, so MQTT sessions use a replay window.
// Both modules load when a link opens, not at start-up.
import type { SerialPort } from 'serialport';
import type { MqttClient } from 'mqtt';
import { XiotaError } from '../../agent/errors';

export interface LinkEvents {
  /** Bytes (serial) or one whole frame (MQTT). */
  data(bytes: Uint8Array): void;
  /** The link went away on its own (unplugged, broker gone). */
  closed(reason: string): void;
  error(reason: string): void;
}

export interface Link {
  /** True when a chunk is one whole frame (MQTT), false for a byte stream (serial). */
  readonly datagram: boolean;
  readonly isOpen: boolean;
  write(bytes: Uint8Array): void;
  close(): Promise<void>;
}

export const DEFAULT_TOPIC_PREFIX = 'xiota/bridge';
export const MQTT_REPLAY_WINDOW = 64;

export const isMqttUrl = (path: string): boolean => /^mqtts?:\/\//i.test(path);
export const boardTopics = (prefix: string, board: string) => ({ up: `${prefix}/${board}/up`, down: `${prefix}/${board}/down` });

export function openSerial(path: string, baudRate: number, ev: LinkEvents): Promise<Link> {
  return new Promise<Link>((resolve, reject) => {
    const { SerialPort: Port } = require('serialport') as typeof import('serialport');
    const port: SerialPort = new Port({ path, baudRate, autoOpen: false, lock: false });
    let closing = false;
    port.on('data', (chunk: Buffer) => ev.data(chunk));
    port.on('error', (err) => ev.error(`serial ${path}: ${err.message}`));
    port.on('close', () => { if (!closing) ev.closed(`serial ${path} closed (unplugged?)`); });
    port.open((err) => {
      if (err) {
        reject(new XiotaError('XIOTA_E_DRIVER', `cannot open ${path}: ${err.message} (check the path, and that the user is in the dialout group)`, { path }, { cause: err }));
        return;
      }
      resolve({
        datagram: false,
        get isOpen() { return port.isOpen; },
        write: (b) => { if (port.isOpen) port.write(Buffer.from(b)); },
        close: () => new Promise<void>((done) => { closing = true; if (port.isOpen) port.close(() => done()); else done(); }),
      });
    });
  });
}

export function openMqtt(url: string, prefix: string, board: string, timeoutMs: number, ev: LinkEvents): Promise<Link> {
  const { up, down } = boardTopics(prefix, board);
  return new Promise<Link>((resolve, reject) => {
    const mqtt = require('mqtt') as typeof import('mqtt');
    // No reconnects of its own: the driver's backoff reopens the link and restarts the session.
    const client: MqttClient = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, clean: true, clientId: `xiota-bridge-${board}-${process.pid}-${Date.now() % 100000}` });
    let open = false, closing = false;
    const fail = (why: string) => {
      client.end(true);
      reject(new XiotaError('XIOTA_E_CONNECT', `bridge over MQTT: ${why}`, { url }));
    };
    const timer = setTimeout(() => fail(`no connection to ${url} within ${timeoutMs} ms (is the broker running?)`), timeoutMs);
    client.on('message', (topic, payload) => { if (topic === up) ev.data(new Uint8Array(payload.buffer, payload.byteOffset, payload.length)); });
    client.on('error', (err) => { if (open) ev.error(`mqtt ${url}: ${err.message}`); });
    client.on('close', () => {
      const was = open;
      open = false;
      if (was && !closing) ev.closed(`lost the MQTT connection to ${url}`);
    });
    client.on('connect', () => {
      client.subscribe(up, { qos: 1 }, (err) => {
        clearTimeout(timer);
        if (err) { fail(`cannot subscribe to ${up}: ${err.message}`); return; }
        open = true;
        resolve({
          datagram: true,
          get isOpen() { return open; },
          write: (b) => { if (open) client.publish(down, Buffer.from(b), { qos: 1 }); },
          close: () => new Promise<void>((done) => { closing = true; open = false; client.end(false, {}, () => done()); }),
        });
      });
    });
  });
}
