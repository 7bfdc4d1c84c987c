import type { Command } from 'commander';
import { imageBuild, imageSign, imageVerify } from './commands/image.js';
import { imagePush } from './commands/image-push.js';
import { trustIdentityAdd, trustKeyAdd, trustList, trustRevoke } from './commands/trust.js';
import type { CliIo, Run } from './program.js';

/** The supply-chain commands: `carapace image build|sign|verify` and `carapace trust ...`. */

const PUBLIC_FULCIO_URL = 'https://fulcio.sigstore.dev';
const PUBLIC_REKOR_URL = 'https://rekor.sigstore.dev';

interface SignFlags {
  readonly key?: string;
  readonly repin?: boolean;
  readonly keyless?: boolean;
  readonly identityToken?: string;
  readonly fulcioUrl: string;
  readonly rekorUrl: string;
  readonly tsaUrl?: string;
}

export function addImageCommands(program: Command, io: CliIo, run: Run): void {
  const image = program.command('image').description('build, sign and verify plugin images');
  image
    .command('build')
    .description('build the built-in plugin images from the installed package, sign them with the local key and pin their digests')
    .argument('[plugin...]', 'built-in plugins to build (default: all)')
    .action(run(async (ctx, plugins: string[]) => imageBuild(ctx, plugins, { onProgress: (line) => io.stderr(`${line}\n`) })));
  image
    .command('sign')
    .description("write a Sigstore bundle for an image digest beside the lock; PLUGIN signs its pinned digest (or pins your own plugin's image)")
    .argument('<target>', 'sha256:<manifest digest> or a plugin name')
    .option('--key <file>', 'PEM private key (0600) instead of the home\'s local key')
    .option('--repin', "sign and pin the image the runtime holds under your plugin's manifest now, replacing its pin")
    .option('--keyless', 'sign with a short-lived Fulcio certificate for an OIDC identity (token from SIGSTORE_ID_TOKEN)')
    .option('--identity-token <token>', 'the OIDC identity token for --keyless (prefer SIGSTORE_ID_TOKEN: arguments are visible to other users)')
    .option('--fulcio-url <url>', 'Fulcio for --keyless', PUBLIC_FULCIO_URL)
    .option('--rekor-url <url>', 'Rekor for --keyless', PUBLIC_REKOR_URL)
    .option('--tsa-url <url>', 'an RFC 3161 timestamp authority for --keyless')
    .action(
      run(async (ctx, target: string, flags: SignFlags) =>
        imageSign(ctx, target, {
          ...(flags.key === undefined ? {} : { key: flags.key }),
          ...(flags.repin === true ? { repin: true } : {}),
          ...(flags.keyless === true
            ? {
                keyless: {
                  identityToken: flags.identityToken ?? io.env['SIGSTORE_ID_TOKEN'],
                  fulcioURL: flags.fulcioUrl,
                  rekorURL: flags.rekorUrl,
                  ...(flags.tsaUrl === undefined ? {} : { tsaURL: flags.tsaUrl }),
                },
              }
            : {}),
        }),
      ),
    );
  image
    .command('verify')
    .description("check a plugin's (or a digest's) bundle against the trust policy and revocation list, as the start gate does")
    .argument('<target>', 'a plugin name or sha256:<manifest digest>')
    .action(run(async (ctx, target: string) => imageVerify(ctx, target)));
  image
    .command('push')
    .description('publish a built image and its signature to an OCI registry (the pinned digest, rebuilt and checked first)')
    .argument('<plugin>', 'a built-in plugin')
    .argument('<ref>', 'registry/repository:tag')
    .option('--plain-http', 'plain HTTP instead of HTTPS; for a registry on loopback (127.0.0.1, ::1, localhost) only')
    .action(
      run(async (ctx, plugin: string, ref: string, flags: { plainHttp?: boolean }) =>
        imagePush(ctx, plugin, ref, { plainHttp: flags.plainHttp === true, onProgress: (line) => io.stderr(`${line}\n`) }),
      ),
    );
}

export function addTrustCommands(program: Command, run: Run): void {
  const trust = program.command('trust').description('the trust policy (who may sign images) and the revocation list');
  trust
    .command('revoke')
    .description('revoke a key, a keyless identity or an image digest; every start checks the list')
    .option('--key <id>', 'a key id from the policy, or a key fingerprint sha256:<hex>')
    .option('--identity <subject>', "a keyless certificate's subject (e-mail or URI)")
    .option('--digest <digest>', 'an image manifest digest sha256:<hex>')
    .option('--reason <text>', 'why, kept in the list')
    .action(run(async (ctx, options: { key?: string; identity?: string; digest?: string; reason?: string }) => trustRevoke(ctx, options)));
  trust.command('list').description('trusted keys and identities, requirements, revocations').action(run(async (ctx) => trustList(ctx)));
  trust
    .command('key')
    .description('trusted public keys')
    .command('add')
    .description('trust a public key (PEM) to sign images')
    .argument('<file>', 'PEM public key file')
    .requiredOption('--id <id>', 'the name the policy and revocations use for it')
    .action(run(async (ctx, file: string, options: { id: string }) => trustKeyAdd(ctx, file, options.id)));
  trust
    .command('identity')
    .description('trusted keyless identities')
    .command('add')
    .description('trust a keyless signer: an OIDC issuer and a subject (exact) or subject pattern (regular expression, anchored)')
    .requiredOption('--issuer <url>', 'the OIDC issuer, e.g. https://token.actions.githubusercontent.com')
    .option('--subject <subject>', "the certificate's exact subject")
    .option('--subject-pattern <regexp>', 'a regular expression the whole subject must match')
    .action(
      run(async (ctx, options: { issuer: string; subject?: string; subjectPattern?: string }) =>
        trustIdentityAdd(ctx, {
          issuer: options.issuer,
          ...(options.subject === undefined ? {} : { subject: options.subject }),
          ...(options.subjectPattern === undefined ? {} : { subjectPattern: options.subjectPattern }),
        }),
      ),
    );
}
