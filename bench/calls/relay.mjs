// (b) The host relay: the same sockets and hops as a real call, with no pipeline. Callers' DEALERs
// reach a front ROUTER (like the core's caller socket); each message goes out of a back ROUTER to
// the container (like the plugin socket) with the caller's routing id as an extra part, comes back
// echoed, and returns to that caller. Run by tool-calls.mjs as its own process:
//   node bench/calls/relay.mjs FRONT_SOCKET BACK_SOCKET_DIR CONTAINER_UID
import { chmod, chown } from 'node:fs/promises';
import { Router } from 'zeromq';
import './process-probe.mjs';

const [frontPath, backDir, uid] = process.argv.slice(2);
// The core's own ROUTER options (caller-channel.ts, plugin-channel.ts): no silent drops.
const options = { linger: 0, mandatory: true, sendTimeout: 5000 };
const front = new Router(options);
const back = new Router(options);
const backPath = `${backDir}/plugin.sock`;
await back.bind(`ipc://${backPath}`);
await chmod(backPath, 0o600);
await chown(backPath, Number(uid), -1);
await front.bind(`ipc://${frontPath}`);
await chmod(frontPath, 0o600);
process.send({ event: 'bound' });

const [container] = await back.receive();
process.send({ event: 'peer' });

process.once('SIGTERM', () => {
  front.close();
  back.close();
});

const toContainer = async () => {
  for await (const [caller, ...parts] of front) await back.send([container, caller, ...parts]);
};
const toCaller = async () => {
  for await (const [, caller, ...parts] of back) await front.send([caller, ...parts]);
};
const ended = await Promise.allSettled([toContainer(), toCaller()]);
for (const result of ended) if (result.status === 'rejected' && !front.closed) console.error(result.reason);
