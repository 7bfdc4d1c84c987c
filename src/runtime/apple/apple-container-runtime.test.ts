import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkContainerAgainstSpec } from '../../core/container-observation.js';
import { toHardenedSpec } from '../../core/container-spec.js';
import { failed, FakeExecutor, ok } from '../../../test/support/fake-executor.js';
import { AppleContainerRuntime } from './apple-container-runtime.js';

const inspectJson = readFileSync(new URL('../../../test/runtime/fixtures/apple-container-inspect-synthetic.json', import.meta.url), 'utf8');
const imageJson = JSON.stringify([{ name: 'localhost/echo:1', index: { digest: 'sha256:bbbb' }, variants: [] }]);

const spec = toHardenedSpec({
  name: 'carapace-echo-1',
  image: 'localhost/echo:1',
  command: ['node', '/app/main.js'],
  socketDir: '/Users/u/.carapace/run/echo-1',
  labels: { 'io.carapace.home': '/Users/u/.carapace' },
});

describe('AppleContainerRuntime', () => {
  it('describes itself as one VM per container and lists what it cannot enforce', async () => {
    const executor = new FakeExecutor().on('--version', ok('container CLI version 1.0.0 (build: release, commit: abc)\n'));
    const description = await new AppleContainerRuntime(executor).describe();
    expect(description).toMatchObject({ kind: 'apple', version: '1.0.0', isolation: 'vm-per-container', endpoint: 'container' });
    expect(description.limitations?.join('\n')).toMatch(/no-new-privileges/);
  });

  it('checks the image is local, creates, then starts attached with the stdin bytes', async () => {
    const executor = new FakeExecutor()
      .on('image inspect', ok(imageJson))
      .on('create', ok('carapace-echo-1\n'))
      .on('start', ok('hello\n'));
    await using container = await new AppleContainerRuntime(executor).start(spec, { stdin: new TextEncoder().encode('{"creds":1}') });
    executor.on('delete', ok());
    expect(executor.calls.map((call) => call.args.slice(0, 2).join(' '))).toEqual(['image inspect', 'create --name', 'start --attach']);
    expect(executor.calls[2]).toEqual({ file: 'container', args: ['start', '--attach', '--interactive', 'carapace-echo-1'], stdin: '{"creds":1}' });
    await expect(container.wait()).resolves.toEqual({ exitCode: 0, stdout: 'hello\n', stderr: '' });
  });

  it('never pulls: a missing image stops before create', async () => {
    const executor = new FakeExecutor().on('image inspect', failed('Error: notFound: "Images: localhost/echo:1"'));
    await expect(new AppleContainerRuntime(executor).start(spec)).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    expect(executor.calls).toHaveLength(1);
  });

  it('reports a CLI too old for a hardening flag as unsupported, not as a plain failure', async () => {
    const executor = new FakeExecutor().on('image inspect', ok(imageJson)).on('create', failed("Error: Unknown option '--cap-drop'", 64));
    await expect(new AppleContainerRuntime(executor).start(spec)).rejects.toMatchObject({ code: 'RUNTIME_UNSUPPORTED' });
  });

  it('kills a container that outlives its wait timeout', async () => {
    const executor = new FakeExecutor()
      .on('image inspect', ok(imageJson))
      .on('create', ok())
      .on('start', () => new Promise(() => undefined))
      .on('kill', ok())
      .on('delete', ok());
    await using container = await new AppleContainerRuntime(executor).start(spec);
    await expect(container.wait({ timeoutMs: 20 })).rejects.toMatchObject({ code: 'CONTAINER_TIMEOUT' });
    expect(executor.calls.some((call) => call.args.join(' ') === 'kill carapace-echo-1')).toBe(true);
  });

  it('maps inspect output so the checks pass except the two the CLI cannot express', async () => {
    const executor = new FakeExecutor().on('inspect carapace-echo-1', ok(inspectJson));
    const seen = await new AppleContainerRuntime(executor).inspect('carapace-echo-1');
    expect(seen).toMatchObject({ readOnlyRootfs: true, networkMode: 'none', capDrop: ['ALL'], user: '10001:10001', running: true });
    expect(seen.mounts).toEqual([
      { type: 'bind', source: '/Users/u/.carapace/run/echo-1', target: '/run/carapace', readOnly: true, options: ['ro'] },
      { type: 'tmpfs', source: '', target: '/tmp', readOnly: false, options: [] },
    ]);
    const failing = checkContainerAgainstSpec(spec, seen).filter((check) => !check.ok).map((check) => check.property);
    expect(failing).toEqual(['No new privileges', 'Resource limits']);
  });

  it('lists by exact label match and removes idempotently', async () => {
    const executor = new FakeExecutor()
      .on('list --all --format json', ok(inspectJson))
      .on('delete --force gone', failed('Error: notFound: container gone'))
      .on('delete --force busy', failed('Error: internalError: xpc'));
    const runtime = new AppleContainerRuntime(executor);
    expect(await runtime.list({ 'io.carapace.home': '/Users/u/.carapace' })).toEqual([
      expect.objectContaining({ id: 'carapace-echo-1', state: 'running' }),
    ]);
    expect(await runtime.list({ 'io.carapace.home': '/Users/other' })).toEqual([]);
    await expect(runtime.remove('gone')).resolves.toBeUndefined();
    await expect(runtime.remove('busy')).rejects.toMatchObject({ code: 'RUNTIME_REQUEST_FAILED' });
  });

  it('loads an archive and returns the loaded image digest', async () => {
    const executor = new FakeExecutor()
      .on('image load --input /tmp/a.tar', ok('Loaded images:\nlocalhost/echo:1\n'))
      .on('image inspect localhost/echo:1', ok(imageJson));
    await expect(new AppleContainerRuntime(executor).loadImage('/tmp/a.tar')).resolves.toBe('sha256:bbbb');
  });
});
