import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, mkdir, symlink } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePortRun,
  freePorts,
  loadInfraConfig,
  repoRoot,
  type ServerStatus,
} from '../src/index.js';

/**
 * How long one `up` may take: each server has the start deadline (the default of
 * SAGAFLOW_INFRA_START_TIMEOUT_MS) to answer, and those that do not are then stopped. Under the
 * load of the end-to-end tier, a first start has taken more than 120 s in CI.
 */
const upTimeoutMs = loadInfraConfig({}).startTimeoutMs + 60_000;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'infra/local/src/cli.ts'), ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: upTimeoutMs },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A second, private set of servers: its own ports and state folder, the shared install cache. */
describe('infra CLI (up, status, env, down) on its own ports', () => {
  let stateDir: string;
  let env: Record<string, string>;
  let ports: number[];

  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'sagaflow-infra-e2e-'));
    ports = await freePorts(4);
    env = {
      SAGAFLOW_INFRA_STATE_DIR: stateDir,
      SAGAFLOW_KAFKA_PORT: String(ports[0]),
      SAGAFLOW_KAFKA_CONTROLLER_PORT: String(ports[1]),
      SAGAFLOW_REGISTRY_PORT: String(ports[2]),
      SAGAFLOW_MONGODB_PORT: String(ports[3]),
      SAGAFLOW_KAFKA_HEAP_MB: '512',
      SAGAFLOW_REGISTRY_HEAP_MB: '384',
    };
  });

  afterAll(async () => {
    await cli(['down', '--wipe'], env);
    await rm(stateDir, { recursive: true, force: true });
  });

  it(
    'starts all three servers and returns only when they answer',
    { timeout: upTimeoutMs },
    async () => {
      const up = await cli(['up'], env);
      expect(up.stderr).toMatch(/kafka: Apache Kafka 3\.9\.1 up on port/);
      expect(up.stderr).toMatch(/registry: Apicurio Registry 3\.0\.9 up on port/);
      expect(up.stderr).toMatch(/database: FerretDB 1\.24\.2 up on port/);
      expect(up.code).toBe(0);
    },
  );

  it('is harmless when run again', async () => {
    const again = await cli(['up'], env);
    expect(again.code).toBe(0);
    expect(again.stderr.match(/already running/g)).toHaveLength(3);
  });

  it('reports each server up with its version, port and pid', async () => {
    const status = await cli(['status', '--json'], env);
    expect(status.code).toBe(0);
    const servers = JSON.parse(status.stdout) as ServerStatus[];
    expect(servers.map((s) => [s.name, s.state, s.version, s.port])).toEqual([
      ['kafka', 'up', '3.9.1', ports[0]],
      ['registry', 'up', '3.0.9', ports[2]],
      ['database', 'up', '1.24.2', ports[3]],
    ]);
    for (const server of servers) expect(isAlive(server.pid!)).toBe(true);
    const table = await cli(['status'], env);
    expect(table.stdout).toMatch(/^kafka \(Apache Kafka\)\s+up\s+3\.9\.1\s+\d+\s+\d+/m);
  });

  it('prints exactly three working addresses', async () => {
    const printed = await cli(['env'], env);
    expect(printed.code).toBe(0);
    const lines = printed.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      `KAFKA_BROKERS=127.0.0.1:${ports[0]}`,
      `SCHEMA_REGISTRY_URL=http://127.0.0.1:${ports[2]}/apis/ccompat/v7`,
      `MONGODB_URL=mongodb://127.0.0.1:${ports[3]}`,
    ]);
    const value = (name: string) => lines.find((l) => l.startsWith(`${name}=`))!.split('=')[1]!;

    const admin = new Kafka({
      brokers: [value('KAFKA_BROKERS')],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    expect(await admin.listTopics()).toContain('__sagaflow_health');
    await admin.disconnect();

    const subjects = await fetch(`${value('SCHEMA_REGISTRY_URL')}/subjects`);
    expect(subjects.status).toBe(200);
    expect(await subjects.json()).toEqual([]);

    const client = new MongoClient(value('MONGODB_URL'));
    expect(await client.db('admin').command({ ping: 1 })).toMatchObject({ ok: 1 });
    await client.close();
  });

  it('stops only its own processes and keeps their data', async () => {
    const before = JSON.parse((await cli(['status', '--json'], env)).stdout) as ServerStatus[];
    const down = await cli(['down'], env);
    expect(down.code).toBe(0);
    expect(down.stderr.match(/stopped \(pid \d+\)/g)).toHaveLength(3);
    for (const server of before) expect(isAlive(server.pid!)).toBe(false);
    await expect(
      stat(path.join(stateDir, 'kafka', 'data', 'meta.properties')),
    ).resolves.toBeTruthy();

    const status = await cli(['status', '--json'], env);
    expect(status.code).toBe(3);
    expect((JSON.parse(status.stdout) as ServerStatus[]).map((s) => s.state)).toEqual([
      'down',
      'down',
      'down',
    ]);
    const printed = await cli(['env'], env);
    expect(printed.code).toBe(1);
    expect(printed.stdout).toBe('');
    expect(printed.stderr).toMatch(/not answering: kafka .*registry .*database .*pnpm infra:up/s);
  });

  it('restarts on the data it kept, then wipes it', { timeout: upTimeoutMs }, async () => {
    const up = await cli(['up'], env);
    expect(up.code).toBe(0);
    expect(up.stderr).toMatch(/started: /);
    const wipe = await cli(['down', '--wipe'], env);
    expect(wipe.code).toBe(0);
    await expect(stat(stateDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('fails naming the server and the port when a port is taken, and leaves nothing running', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(ports[0], '127.0.0.1', resolve));
    try {
      const up = await cli(['up'], env);
      expect(up.code).toBe(1);
      expect(up.stderr).toContain(
        `[start kafka] port ${ports[0]} is already taken by a process that infra:up did not start; stop it, or choose another port with SAGAFLOW_KAFKA_PORT`,
      );
      // Refused before any server starts: none was started (and waited for) only to be stopped.
      expect(up.stderr).not.toMatch(/ up on port | stopped /);
      const status = await cli(['status', '--json'], env);
      expect((JSON.parse(status.stdout) as ServerStatus[]).every((s) => s.state === 'down')).toBe(
        true,
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('stops a server that does not answer in time instead of leaving it running', async () => {
    // One millisecond to answer: no server does; each one started is stopped again.
    const up = await cli(['up'], { ...env, SAGAFLOW_INFRA_START_TIMEOUT_MS: '1' });
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/\[health (database|kafka|registry)\] .+ did not answer within 1 ms/);
    const status = await cli(['status', '--json'], env);
    expect((JSON.parse(status.stdout) as ServerStatus[]).map((s) => s.state)).toEqual([
      'down',
      'down',
      'down',
    ]);
    for (const port of ports) {
      await new Promise<void>((resolve, reject) => {
        const probe = net.createServer();
        probe.once('error', () => reject(new Error(`port ${port} is still taken`)));
        probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
      });
    }
  });

  it('fails naming the missing tool', async () => {
    const bin = path.join(stateDir, 'bin-without-java');
    await mkdir(bin, { recursive: true });
    await symlink(process.execPath, path.join(bin, 'node'));
    const up = await cli(['up'], { ...env, PATH: bin });
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/\[prerequisites (kafka|registry)\] 'java' is not on PATH/);
  });

  it('refuses a bad setting, naming the variable', async () => {
    const up = await cli(['up'], { ...env, SAGAFLOW_MONGODB_PORT: 'twenty' });
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(
      /\[config\] SAGAFLOW_MONGODB_PORT must be a port number \(got 'twenty'\)/,
    );
  });
});

describe('infra CLI with a cluster of three brokers', () => {
  let stateDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'sagaflow-infra-brokers-'));
    const kafka = await freePortRun(8);
    const [registry, database] = [kafka + 6, kafka + 7];
    env = {
      SAGAFLOW_INFRA_STATE_DIR: stateDir,
      SAGAFLOW_KAFKA_PORT: String(kafka),
      SAGAFLOW_KAFKA_CONTROLLER_PORT: String(kafka + 1),
      SAGAFLOW_REGISTRY_PORT: String(registry),
      SAGAFLOW_MONGODB_PORT: String(database),
      SAGAFLOW_KAFKA_HEAP_MB: '512',
      SAGAFLOW_REGISTRY_HEAP_MB: '384',
    };
  });

  afterAll(async () => {
    await cli(['down', '--wipe'], env);
    await rm(stateDir, { recursive: true, force: true });
  });

  it(
    'starts three brokers that each see the others, remembers the count, and refuses another on the same data',
    async () => {
      const up = await cli(['up', '--brokers', '3'], env);
      expect(up.stderr).toContain('Apache Kafka broker 3');
      expect(up.code).toBe(0);
      // Without --brokers, the state folder's cluster.
      const printed = await cli(['env'], env);
      expect(printed.code).toBe(0);
      const brokers = /^KAFKA_BROKERS=(.+)$/m.exec(printed.stdout)?.[1]?.split(',') ?? [];
      expect(brokers).toHaveLength(3);
      for (const broker of brokers) {
        const admin = new Kafka({ brokers: [broker], logLevel: logLevel.NOTHING }).admin();
        await admin.connect();
        try {
          expect((await admin.describeCluster()).brokers.map((b) => b.nodeId).sort()).toEqual([
            1, 2, 3,
          ]);
        } finally {
          await admin.disconnect();
        }
      }
      const status = await cli(['status', '--json'], env);
      const statuses = JSON.parse(status.stdout) as ServerStatus[];
      expect(statuses.map((s) => [s.name, s.state])).toEqual([
        ['kafka', 'up'],
        ['kafka-2', 'up'],
        ['kafka-3', 'up'],
        ['registry', 'up'],
        ['database', 'up'],
      ]);
      const other = await cli(['up', '--brokers', '1'], env);
      expect(other.code).toBe(1);
      expect(other.stderr).toMatch(/is a cluster of 3 broker\(s\), not 1: stop and wipe it first/);
      const down = await cli(['down', '--wipe'], env);
      expect(down.code).toBe(0);
      expect(down.stderr).toContain('kafka-3: stopped');
    },
    2 * upTimeoutMs,
  );
});
