// Child for the "servers die with their test" check: starts a broker, prints its PID, then
// waits to be SIGKILLed (no exit handler can run then; the watchdog must do the job).
import { startMosquitto } from '../servers/mosquitto';

void startMosquitto().then((b) => {
  process.stdout.write(`${b.pid} ${b.dir}\n`);
  setInterval(() => {}, 1 << 30);
});
