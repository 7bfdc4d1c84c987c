// Loaded into a measured process (`node --expose-gc --import`, or imported by the relay): answers
// the bench over the IPC channel with the process's memory, and starts or stops a CPU profile, so
// the profile covers the measured phase only, not start-up (image hashing, container start).
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

let session;

async function answer(message) {
  switch (message?.type) {
    case 'memory': {
      // With --expose-gc, collect first: what is left is what the process retains, not garbage
      // that happens not to have been collected yet (a leak shows as retained heap that grows).
      globalThis.gc?.();
      const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
      return { rss, heapUsed, heapTotal, external };
    }
    case 'profile-start':
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
      return {};
    case 'profile-stop': {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(message.path, JSON.stringify(profile));
      session.disconnect();
      session = undefined;
      return { path: message.path };
    }
    default:
      throw new Error(`unknown probe request ${JSON.stringify(message)}`);
  }
}

if (process.send !== undefined) {
  process.on('message', (message) => {
    answer(message).then(
      (value) => process.send({ id: message.id, ok: true, value }),
      (error) => process.send({ id: message.id, ok: false, error: String(error) }),
    );
  });
  // The channel must not keep the process alive: the measured program decides when it ends.
  process.channel?.unref();
}
