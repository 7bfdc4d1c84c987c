/**
 * The import direction of src/, as docs/architecture.md draws it. Each top-level entry of src/ is a
 * layer; a layer may import only the layers listed for it. Libraries that talk to the outside world
 * are confined to the one adapter that owns them.
 */
export const ALLOWED_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  'errors': [],
  'version': [],
  wire: ['errors'],
  core: ['wire', 'errors'],
  'plugin-sdk': ['wire', 'errors'],
  // The built-in plugins run inside containers on the SDK; nothing on the host imports them.
  plugins: ['plugin-sdk', 'wire', 'errors'],
  // Adapters: each wraps one external system and depends only on the pure layers (and port types).
  config: ['wire', 'core', 'errors'],
  logging: ['wire', 'core', 'errors'],
  runtime: ['wire', 'core', 'errors'],
  images: ['runtime', 'wire', 'core', 'errors'],
  transport: ['wire', 'core', 'errors'],
  trust: ['wire', 'core', 'errors'],
  store: ['wire', 'core', 'errors'],
  credentials: ['wire', 'core', 'errors'],
  // OCI distribution client: pulls by digest, checks every byte; the caller verifies and pins.
  registry: ['wire', 'core', 'errors'],
  // Composition: wires adapters into the core.
  daemon: ['config', 'logging', 'runtime', 'images', 'transport', 'trust', 'registry', 'store', 'credentials', 'wire', 'core', 'errors', 'version'],
  // Installation management: releases fetched, verified and swapped in; uninstall. Only the CLI uses it.
  update: ['config', 'runtime', 'images', 'trust', 'registry', 'wire', 'core', 'errors'],
  // MCP clients' own configuration files, edited with the atomic write of config/. Only the CLI uses it.
  clients: ['config', 'errors'],
  doctor: ['daemon', 'config', 'logging', 'runtime', 'images', 'trust', 'credentials', 'wire', 'core', 'errors', 'version'],
  // The agent front: an MCP server that reaches the core only as a caller on the agent socket.
  mcp: ['daemon', 'config', 'wire', 'core', 'errors', 'version'],
  cli: ['mcp', 'clients', 'update', 'doctor', 'daemon', 'config', 'logging', 'runtime', 'images', 'trust', 'registry', 'store', 'credentials', 'wire', 'core', 'errors', 'version'],
};

/** Packages that do I/O, and the only layers allowed to import them. */
export const CONFINED_PACKAGES: Readonly<Record<string, readonly string[]>> = {
  dockerode: ['runtime'],
  zeromq: ['transport', 'plugin-sdk'],
  'better-sqlite3': ['store', 'plugins'],
  sigstore: ['trust'],
  '@sigstore/verify': ['trust'],
  '@sigstore/sign': ['trust'],
  '@sigstore/bundle': ['trust'],
  '@sigstore/core': ['trust'],
  '@sigstore/protobuf-specs': ['trust'],
  tar: ['images', 'trust', 'registry', 'update'],
  undici: ['registry', 'update'],
  pino: ['logging'],
  commander: ['cli'],
  '@modelcontextprotocol/sdk': ['mcp'],
  'smol-toml': ['config'],
};

/** Node built-ins that touch the world; the pure core may use none of them. */
export const IO_BUILTINS = [
  'fs', 'fs/promises', 'net', 'http', 'https', 'http2', 'child_process', 'dgram', 'dns', 'os', 'tls',
  'worker_threads', 'cluster', 'process', 'readline', 'inspector', 'vm',
];
export const PURE_LAYERS = ['core', 'wire'];
