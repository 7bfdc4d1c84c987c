import { CarapaceError } from '../errors.js';
import type { Observe } from './build-memo.js';
import type { ImageDefinition, RootfsEntry } from './image-definition.js';
import { collectRuntimePackages } from './npm-runtime-files.js';
import { PACKAGE_ROOT } from './package-root.js';
import { listSharedLibraries } from './shared-libraries.js';

/** Where things sit inside every Node plugin image. */
export const NODE_PLUGIN_IMAGE = {
  node: '/usr/local/bin/node',
  appDir: '/app',
  /** The plugin's persistent storage mount point (empty in the image). */
  dataDir: '/data',
  /** The plugin's Carapace manifest and skills, for `carapace plugin add` to read out of a pulled image. */
  carapaceDir: '/carapace',
} as const;

/**
 * Directories a runtime mounts over. They exist, empty, so a mount never has to create a directory
 * in the read-only root, and a plugin without storage finds /data present but not writable.
 */
const MOUNT_POINTS: readonly RootfsEntry[] = [
  { type: 'directory', path: '/run/carapace', mode: 0o755 },
  { type: 'directory', path: NODE_PLUGIN_IMAGE.dataDir, mode: 0o755 },
  { type: 'directory', path: '/tmp', mode: 0o1777 },
  { type: 'directory', path: '/proc', mode: 0o555 },
  { type: 'directory', path: '/sys', mode: 0o555 },
  { type: 'directory', path: '/dev', mode: 0o755 },
];

/** A file of the plugin's own code: read from `hostPath`, placed at `/app/<imagePath>`. */
export interface PluginFile {
  readonly hostPath: string;
  /** Relative to /app, `/`-separated: `main.mjs`, `plugins/echo/main.js`. */
  readonly imagePath: string;
}

export interface NodePluginImageInput {
  /** Repository name, e.g. `localhost/carapace/plugin-echo`. */
  readonly name: string;
  readonly files: readonly PluginFile[];
  /** npm packages the code imports; their runtime dependencies come along (see npm-runtime-files.ts). */
  readonly packages: readonly string[];
  /** The file node runs, one of `files`' image paths. */
  readonly entry: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** The node binary to copy; defaults to the one running Carapace. */
  readonly nodePath?: string;
  /** Where package lookup starts; defaults to Carapace's package root. */
  readonly packageSearchDir?: string;
  readonly ldd?: string;
  /** Told every directory listed and file read to decide what the image holds (see build-memo.ts). */
  readonly observe?: Observe;
  /**
   * The plugin's `manifest.json` and its skills, placed at /carapace/manifest.json and
   * /carapace/<imagePath> (imagePath as the manifest lists the skill, e.g. `skills/use.md`), so an
   * image pulled from a registry carries what the core needs to know about it, under its signature.
   */
  readonly carapace?: { readonly manifest: string; readonly skills?: readonly PluginFile[] };
}

/**
 * An image that runs a Node plugin and holds nothing else: the host's node binary, the shared
 * libraries it and the packages' native addons link against (and the dynamic loader), the plugin's
 * files under /app, and the runtime files of its npm packages under /app/node_modules. No shell and
 * no package manager, so code that gets control of the plugin finds no tools in the image.
 *
 * The libraries are the host's, found with `ldd` at build time; that is why the image runs only on
 * a host of the same architecture and libc family. Same inputs give the same image digest.
 */
export async function nodePluginImageDefinition(input: NodePluginImageInput): Promise<ImageDefinition> {
  verifyPluginFiles(input);
  const nodePath = input.nodePath ?? process.execPath;
  const packages = await collectRuntimePackages(input.packages, {
    searchFrom: input.packageSearchDir ?? PACKAGE_ROOT,
    nodePath,
    ...(input.observe === undefined ? {} : { observe: input.observe }),
  });
  const libraries = await listSharedLibraries([nodePath, ...packages.flatMap((pkg) => pkg.addons)], {
    ...(input.ldd === undefined ? {} : { ldd: input.ldd }),
    ...(input.observe === undefined ? {} : { observe: input.observe }),
  });

  const app = NODE_PLUGIN_IMAGE.appDir;
  const rootfs: RootfsEntry[] = [
    { type: 'file', path: NODE_PLUGIN_IMAGE.node, mode: 0o555, source: { hostPath: nodePath } },
    ...libraries.map((path): RootfsEntry => ({ type: 'file', path, mode: 0o555, source: { hostPath: path } })),
    // Compiled plugin code is ESM in .js files; without this node would read it as CommonJS.
    { type: 'file', path: `${app}/package.json`, mode: 0o444, source: { content: '{"type":"module"}\n' } },
    ...input.files.map((file): RootfsEntry => ({ type: 'file', path: `${app}/${file.imagePath}`, mode: 0o444, source: { hostPath: file.hostPath } })),
    ...packages.flatMap((pkg) =>
      pkg.files.map((file): RootfsEntry => ({
        type: 'file',
        path: `${app}/node_modules/${pkg.name}/${file.path}`,
        mode: 0o444,
        source: 'content' in file ? { content: file.content } : { hostPath: file.hostPath },
      })),
    ),
    ...carapaceFiles(input),
    ...MOUNT_POINTS,
  ];
  return {
    name: input.name,
    rootfs,
    config: {
      entrypoint: [NODE_PLUGIN_IMAGE.node, `${app}/${input.entry}`],
      workdir: app,
      path: '/usr/local/bin',
      labels: { 'org.opencontainers.image.title': input.name.slice(input.name.lastIndexOf('/') + 1), ...input.labels },
    },
  };
}

function carapaceFiles(input: NodePluginImageInput): RootfsEntry[] {
  if (input.carapace === undefined) return [];
  const dir = NODE_PLUGIN_IMAGE.carapaceDir;
  return [
    { type: 'file', path: `${dir}/manifest.json`, mode: 0o444, source: { hostPath: input.carapace.manifest } },
    ...(input.carapace.skills ?? []).map((file): RootfsEntry => ({ type: 'file', path: `${dir}/${file.imagePath}`, mode: 0o444, source: { hostPath: file.hostPath } })),
  ];
}

/**
 * Plugin file paths are joined under /app without normalising, so `..` or an absolute path is
 * refused here rather than resolved somewhere else in the image (over node, or into node_modules).
 */
function verifyPluginFiles(input: NodePluginImageInput): void {
  const problems: string[] = [];
  const imagePaths = new Set<string>();
  for (const file of input.files) {
    const segments = file.imagePath.split('/');
    if (file.imagePath.startsWith('/') || segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
      problems.push(`${JSON.stringify(file.imagePath)} must be a relative path without empty, . or .. segments`);
    } else if (segments[0] === 'node_modules' || file.imagePath === 'package.json') {
      problems.push(`${file.imagePath} is where the image builder puts packages and the module type`);
    }
    imagePaths.add(file.imagePath);
  }
  for (const skill of input.carapace?.skills ?? []) {
    const segments = skill.imagePath.split('/');
    if (skill.imagePath.startsWith('/') || segments.some((segment) => segment === '' || segment === '.' || segment === '..') || skill.imagePath === 'manifest.json') {
      problems.push(`skill ${JSON.stringify(skill.imagePath)} must be a relative path under /carapace other than manifest.json`);
    }
  }
  if (!imagePaths.has(input.entry)) problems.push(`entry ${JSON.stringify(input.entry)} is not one of the plugin's files`);
  if (problems.length > 0) {
    throw new CarapaceError('IMAGE_BUILD_FAILED', `plugin image ${input.name}: ${problems.join('; ')}`, { details: { problems } });
  }
}
