import { Parser, type ReadEntry } from 'tar';

/** One entry as an independent tar parser (node-tar's `Parser`) reads it back. */
export interface ReadTarEntry {
  readonly path: string;
  readonly type: string;
  readonly mode: number | undefined;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  readonly uname: string | undefined;
  readonly gname: string | undefined;
  readonly mtime: number | undefined;
  readonly linkpath: string | undefined;
  readonly content: Buffer;
}

/** Reads a whole tar stream in memory; strict, so any malformed header fails the test. */
export function readTar(bytes: Buffer): Promise<ReadTarEntry[]> {
  return new Promise((resolve, reject) => {
    const entries: ReadTarEntry[] = [];
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => {
          entries.push({
            path: entry.path,
            type: entry.type,
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            uname: entry.uname,
            gname: entry.gname,
            mtime: entry.mtime?.getTime(),
            linkpath: entry.linkpath,
            content: Buffer.concat(chunks),
          });
        });
      },
    });
    parser.on('error', reject);
    parser.on('end', () => resolve(entries));
    parser.end(bytes);
  });
}

/** The contents of one file in a tar stream, or an error naming what is there instead. */
export async function readTarFile(bytes: Buffer, path: string): Promise<Buffer> {
  const entries = await readTar(bytes);
  const entry = entries.find((candidate) => candidate.path === path);
  if (entry === undefined) throw new Error(`${path} not in archive: ${entries.map((e) => e.path).join(', ')}`);
  return entry.content;
}
