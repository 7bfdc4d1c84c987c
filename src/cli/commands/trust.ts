import { open } from 'node:fs/promises';
import { ensureCarapaceHome } from '../../config/carapace-home.js';
import { CarapaceError } from '../../errors.js';
import { withFileGuard } from '../../trust/file-guard.js';
import { publicKeyFingerprint } from '../../trust/key-fingerprint.js';
import { addRevocation, loadRevocationList, saveRevocationList, type RevocationKind } from '../../trust/revocation-list.js';
import { parseManifestDigest } from '../../trust/signed-payload.js';
import { loadTrustPolicy, parseTrustPolicy, saveTrustPolicy, type KeylessIdentity, type TrustPolicy } from '../../trust/trust-policy.js';
import type { CommandContext, CommandResult } from '../command-result.js';

export interface RevokeOptions {
  readonly key?: string;
  readonly identity?: string;
  readonly digest?: string;
  readonly reason?: string;
}

/**
 * `carapace trust revoke --key ID | --identity SUBJECT | --digest DIGEST [--reason TEXT]`: adds one
 * entry to the revocation list. Every start checks it, so the next start refuses what it names,
 * whatever the policy or the verification cache say.
 */
export async function trustRevoke(ctx: CommandContext, options: RevokeOptions, now: Date = new Date()): Promise<CommandResult> {
  const given = (['key', 'identity', 'digest'] as const).filter((kind) => options[kind] !== undefined);
  const [kind] = given;
  if (given.length !== 1 || kind === undefined) throw new CarapaceError('CLI_USAGE', 'trust revoke takes exactly one of --key ID, --identity SUBJECT, --digest DIGEST');
  const value = kind === 'digest' ? parseManifestDigest(options.digest) : (options[kind] ?? '');
  if (value === '') throw new CarapaceError('CLI_USAGE', `--${kind} needs a value`);
  const layout = await ensureCarapaceHome(ctx.home);
  await withFileGuard(layout.revocationFile, async () => {
    const list = await loadRevocationList(layout.revocationFile);
    await saveRevocationList(layout.revocationFile, addRevocation(list, { kind, value, at: now, ...(options.reason === undefined ? {} : { reason: options.reason }) }));
  });
  return {
    text: `revoked ${kind} ${value}${options.reason === undefined ? '' : ` (${options.reason})`}; the next start refuses it`,
    data: { revoked: { kind, value, reason: options.reason ?? null, at: now.toISOString() } },
  };
}

/** `carapace trust list`: who the policy trusts, its requirements, and what is revoked. */
export async function trustList(ctx: CommandContext): Promise<CommandResult> {
  const layout = await ensureCarapaceHome(ctx.home);
  const [policy, revocations] = await Promise.all([loadTrustPolicy(layout.trustPolicyFile), loadRevocationList(layout.revocationFile)]);
  const keys = policy.keys.map((key) => ({ id: key.id, fingerprint: publicKeyFingerprint(key.publicKeyPem) }));
  const revoked = (kind: RevocationKind, values: readonly string[]) =>
    values.map((value) => {
      const note = revocations.notes?.[`${kind}:${value}`];
      return { kind, value, reason: note?.reason ?? null, at: note?.at ?? null };
    });
  const revokedEntries = [...revoked('key', revocations.keys), ...revoked('identity', revocations.identities), ...revoked('digest', revocations.digests)];
  const lines = [
    `policy ${layout.trustPolicyFile}`,
    `  transparency log required: ${yesNo(policy.requireTransparencyLog)}; timestamp required: ${yesNo(policy.requireTimestamp)}${policy.trustedRootFile === undefined ? '' : `; trusted root: ${policy.trustedRootFile}`}`,
    'keys',
    ...(keys.length === 0 ? ['  (none)'] : keys.map((key) => `  ${key.id}  ${key.fingerprint}`)),
    'keyless identities',
    ...(policy.keyless.length === 0 ? ['  (none)'] : policy.keyless.map((identity) => `  ${identityText(identity)}`)),
    `revoked (${layout.revocationFile})`,
    ...(revokedEntries.length === 0
      ? ['  (none)']
      : revokedEntries.map((entry) => `  ${entry.kind} ${entry.value}${entry.reason === null ? '' : `  (${entry.reason})`}${entry.at === null ? '' : `  at ${entry.at}`}`)),
  ];
  return {
    text: lines.join('\n'),
    data: {
      policy: { file: layout.trustPolicyFile, keys, keyless: policy.keyless, requireTransparencyLog: policy.requireTransparencyLog, requireTimestamp: policy.requireTimestamp, trustedRootFile: policy.trustedRootFile ?? null },
      revoked: revokedEntries,
    },
  };
}

/**
 * `carapace trust key add FILE --id ID`: trusts the public key in FILE (PEM) to sign images. A
 * private key is refused: the policy is for public keys, and copying a private one into it would
 * spread a secret into a file that is not kept like one.
 */
export async function trustKeyAdd(ctx: CommandContext, file: string, id: string): Promise<CommandResult> {
  const layout = await ensureCarapaceHome(ctx.home);
  const pem = await readPublicKeyFile(file);
  const updated = await editPolicy(layout.trustPolicyFile, (policy) => ({ ...policy, keys: [...policy.keys, { id, publicKeyPem: pem }] }));
  const fingerprint = publicKeyFingerprint(pem);
  return { text: `trusted key ${id} (${fingerprint})`, data: { key: { id, fingerprint }, keys: updated.keys.length } };
}

/** `carapace trust identity add --issuer URL (--subject S | --subject-pattern RE)`: trusts a keyless signer. */
export async function trustIdentityAdd(ctx: CommandContext, identity: { issuer: string; subject?: string; subjectPattern?: string }): Promise<CommandResult> {
  if ((identity.subject === undefined) === (identity.subjectPattern === undefined)) {
    throw new CarapaceError('CLI_USAGE', 'trust identity add takes exactly one of --subject and --subject-pattern');
  }
  const layout = await ensureCarapaceHome(ctx.home);
  const entry: KeylessIdentity =
    identity.subject !== undefined ? { issuer: identity.issuer, subject: identity.subject } : { issuer: identity.issuer, subjectPattern: identity.subjectPattern ?? '' };
  await editPolicy(layout.trustPolicyFile, (policy) => ({ ...policy, keyless: [...policy.keyless, entry] }));
  return { text: `trusted keyless identity ${identityText(entry)}`, data: { identity: entry } };
}

/**
 * One guarded read-modify-write of the policy. The edited policy is parsed as if it were read back,
 * so an edit can never write a policy the gate would refuse to load.
 */
async function editPolicy(file: string, change: (policy: TrustPolicy) => TrustPolicy): Promise<TrustPolicy> {
  return withFileGuard(file, async () => {
    const checked = parseTrustPolicy(JSON.parse(JSON.stringify(change(await loadTrustPolicy(file)))), file);
    await saveTrustPolicy(file, checked);
    return checked;
  });
}

/** The user names the file on the command line, so it is read as given; only what it holds is checked. */
async function readPublicKeyFile(file: string): Promise<string> {
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      if ((await handle.stat()).size > MAX_KEY_FILE_BYTES) throw new CarapaceError('CLI_USAGE', `${file} is too large for a public key`, { details: { file } });
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof CarapaceError) throw error;
    throw new CarapaceError('CLI_USAGE', `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, details: { file } });
  }
  if (/PRIVATE KEY/.test(text)) throw new CarapaceError('TRUST_POLICY_INVALID', `${file} holds a private key; give the public key (openssl pkey -pubout)`, { details: { file } });
  return `${text.trim()}\n`;
}

const MAX_KEY_FILE_BYTES = 64 * 1024;

function identityText(identity: KeylessIdentity): string {
  return `${identity.subject ?? `/${identity.subjectPattern ?? ''}/`}  issuer ${identity.issuer}`;
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}
