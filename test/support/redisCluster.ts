/**
 * A real Redis Cluster for the tests: six `redis-server` processes on free ports with
 * `--cluster-enabled yes`, formed by `redis-cli --cluster create … --cluster-replicas 1`, so three
 * masters with a replica each. Always local processes (a cluster in containers must announce
 * addresses the host can reach, which testcontainers' random port mapping cannot give at start):
 * CI installs redis-server from Debian. Nodes can be killed and restarted on their port and
 * directory, where `nodes.conf` lets them rejoin; a short `cluster-node-timeout` makes a killed
 * master's replica take over within seconds.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import vm from 'node:vm';
import type { RedisTarget } from '../../adapters/redis/connection';
import { ManagedProcess, answersPing, freePort } from './servers';

const run = promisify(execFile);
const LOCALHOST = '127.0.0.1';
const NODE_COUNT = 6;
const FORM_TIMEOUT_MS = 60_000;
const RESHARD_AGREEMENT_MS = 30_000;
const realProcess = vm.runInThisContext('process') as NodeJS.Process;

export interface ClusterNode {
  readonly port: number;
  /** `127.0.0.1:<port>`, as the cluster names it. */
  readonly address: string;
  /** SIGKILL; the port and directory stay for `restart`. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  isRunning(): boolean;
}

export interface RedisClusterServer {
  readonly nodes: readonly ClusterNode[];
  /** For the worker's configuration: REDIS_CLUSTER_NODES. */
  readonly seeds: string;
  readonly target: RedisTarget;
  /** `redis-cli` against one node (any running one unless named): stdout. */
  cli(args: readonly string[], node?: ClusterNode): Promise<string>;
  /** The node currently master of `slot`, from a running node's CLUSTER SHARDS view. */
  masterOf(slot: number): Promise<ClusterNode>;
  masters(): Promise<ClusterNode[]>;
  replicaOf(master: ClusterNode): Promise<ClusterNode | null>;
  /** The node's id in the cluster (CLUSTER MYID). */
  idOf(node: ClusterNode): Promise<string>;
  /** The slots `master` serves, lowest first. */
  slotsOf(master: ClusterNode): Promise<number[]>;
  /**
   * Moves the `count` lowest slots of `from` to `to`, keys and all, with `redis-cli --cluster
   * reshard` (the slots it picks: `slotsOf(from).slice(0, count)`). Clients see ASK and TRYAGAIN
   * redirections while a slot's keys move, then MOVED.
   */
  reshard(from: ClusterNode, to: ClusterNode, count: number): Promise<void>;
  /**
   * Until each master's replicas hold everything it had written when this was called (their
   * replication offsets reach its own): a master killed after that loses nothing.
   */
  waitForReplication(timeoutMs?: number): Promise<void>;
  /** Until every running node reports cluster_state:ok, and every replica is in sync. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** cluster-node-timeout: how long a silent master waits before its replica takes over. */
  readonly nodeTimeoutMs?: number;
}

export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<RedisClusterServer> {
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 2000;
  const root = mkdtempSync(join(tmpdir(), 'ses-worker-cluster-'));
  const removeRoot = () => rmSync(root, { recursive: true, force: true });
  const processes: (ManagedProcess | null)[] = [];
  const cleanUpAtExit = () => {
    for (const p of processes) p?.killNow();
    removeRoot();
  };
  realProcess.once('exit', cleanUpAtExit);

  const nodes: ClusterNode[] = [];
  try {
    for (let i = 0; i < NODE_COUNT; i++) {
      const port = await freePort();
      const busPort = await freePort();
      const dir = join(root, String(port));
      mkdirSync(dir);
      const args = [
        '--port', String(port), '--cluster-port', String(busPort), '--bind', LOCALHOST,
        '--dir', dir, '--daemonize', 'no', '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeoutMs),
        // Nothing on disk: a restarted node resyncs from its shard's current master.
        '--save', '', '--appendonly', 'no',
        // A replica that lost its master for long still takes over (the chaos suite kills one).
        '--cluster-replica-validity-factor', '0',
      ]; // prettier-ignore
      const launch = async () => {
        const process = new ManagedProcess('redis-server', args, {
          notFound: 'redis-server not found: apt-get install -y redis-server',
        });
        await process.waitUntilReady(`cluster node on port ${port}`, () =>
          answersPing(LOCALHOST, port),
        );
        return process;
      };
      processes[i] = await launch();
      nodes.push({
        port,
        address: `${LOCALHOST}:${port}`,
        isRunning: () => processes[i] !== null,
        async kill() {
          await processes[i]?.kill();
          processes[i] = null;
        },
        async restart() {
          await processes[i]?.kill();
          processes[i] = await launch();
        },
      });
    }
    await run('redis-cli', [
      '--cluster', 'create', ...nodes.map((n) => n.address),
      '--cluster-replicas', '1', '--cluster-yes',
    ]); // prettier-ignore
  } catch (error) {
    cleanUpAtExit();
    realProcess.off('exit', cleanUpAtExit);
    throw error;
  }

  const cli = async (args: readonly string[], node?: ClusterNode): Promise<string> => {
    const target = node ?? nodes.find((n) => n.isRunning());
    if (target === undefined) throw new Error('no cluster node is running');
    const { stdout } = await run('redis-cli', ['-p', String(target.port), ...args]);
    return stdout;
  };
  const nodeAt = (port: number) => {
    const node = nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`no node on port ${port}`);
    return node;
  };
  /** [master port, replica ports[], slot ranges[]] per shard, from CLUSTER NODES. */
  const shards = async () => {
    const lines = (await cli(['cluster', 'nodes'])).trim().split('\n');
    const byId = new Map<
      string,
      { port: number; flags: string; master: string; slots: string[] }
    >();
    for (const line of lines) {
      const [id, addr, flags, master, , , , , ...slots] = line.split(' ');
      const port = Number(addr!.split('@')[0]!.split(':')[1]);
      byId.set(id!, { port, flags: flags!, master: master!, slots });
    }
    const healthy = (flags: string) => !flags.includes('fail') && !flags.includes('noaddr');
    return [...byId.entries()]
      .filter(([, n]) => n.flags.includes('master') && healthy(n.flags) && n.slots.length > 0)
      .map(([id, n]) => ({
        master: n.port,
        replicas: [...byId.values()]
          .filter((r) => r.master === id && healthy(r.flags))
          .map((r) => r.port),
        slots: n.slots,
      }));
  };
  /** `a-b` and `a` entries; a `[slot->-id]` (a slot in migration) belongs to its owner's list. */
  const expand = (ranges: readonly string[]) =>
    ranges
      .filter((range) => !range.startsWith('['))
      .flatMap((range) => {
        const [from, to] = range.split('-').map(Number);
        return Array.from({ length: (to ?? from!) - from! + 1 }, (_, i) => from! + i);
      });
  const inRange = (slot: number, range: string) => {
    const [from, to] = range.split('-').map(Number);
    return slot >= from! && slot <= (to ?? from!);
  };

  const server: RedisClusterServer = {
    nodes,
    seeds: nodes.map((n) => n.address).join(','),
    target: {
      kind: 'cluster',
      seeds: nodes.map((n) => ({ host: LOCALHOST, port: n.port })),
      tls: false,
      username: null,
      password: null,
      natMap: null,
    },
    cli,
    async masterOf(slot) {
      const shard = (await shards()).find((s) => s.slots.some((r) => inRange(slot, r)));
      if (shard === undefined) throw new Error(`no master serves slot ${slot}`);
      return nodeAt(shard.master);
    },
    async masters() {
      return (await shards()).map((s) => nodeAt(s.master));
    },
    async replicaOf(master) {
      const shard = (await shards()).find((s) => s.master === master.port);
      const replica = shard?.replicas.find((port) => nodeAt(port).isRunning());
      return replica === undefined ? null : nodeAt(replica);
    },
    idOf: async (node) => (await cli(['cluster', 'myid'], node)).trim(),
    async slotsOf(master) {
      const shard = (await shards()).find((s) => s.master === master.port);
      return shard === undefined ? [] : expand(shard.slots).sort((a, b) => a - b);
    },
    async reshard(from, to, count) {
      const [fromId, toId] = await Promise.all([server.idOf(from), server.idOf(to)]);
      // Right after a node rejoins, the nodes may not agree on the configuration yet, and
      // redis-cli refuses to start (it has moved nothing then): try again for a while.
      const deadline = Date.now() + RESHARD_AGREEMENT_MS;
      for (;;) {
        try {
          await run('redis-cli', [
            '--cluster', 'reshard', to.address, '--cluster-from', fromId, '--cluster-to', toId,
            '--cluster-slots', String(count), '--cluster-yes',
          ]); // prettier-ignore
          return;
        } catch (error) {
          const output = String((error as { stdout?: string }).stdout ?? error);
          if (!output.includes("Nodes don't agree") || Date.now() > deadline)
            throw new Error(`redis-cli --cluster reshard failed:\n${output.slice(-2000)}`, {
              cause: error,
            });
          await delay(500);
        }
      }
    },
    async waitForReplication(timeoutMs = FORM_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (const master of await server.masters()) {
        const written = Number(
          /master_repl_offset:(\d+)/.exec(await cli(['info', 'replication'], master))?.[1],
        );
        for (;;) {
          const info = await cli(['info', 'replication'], master);
          const held = [...info.matchAll(/^slave\d+:.*offset=(\d+)/gm)].map((m) => Number(m[1]));
          if (held.length > 0 && held.every((offset) => offset >= written)) break;
          if (Date.now() > deadline)
            throw new Error(
              `${master.address}'s replicas short of offset ${written}: ${held.join(', ')}`,
            );
          await delay(50);
        }
      }
    },
    async waitUntilHealthy(timeoutMs = FORM_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(
          nodes
            .filter((n) => n.isRunning())
            .map(async (n) => {
              const [cluster, replication] = await Promise.all([
                cli(['cluster', 'info'], n),
                cli(['info', 'replication'], n),
              ]).catch(() => ['', '']);
              return cluster + replication;
            }),
        );
        // Every slot served, and every replica's link to its master up (WAIT counts only those).
        const ok = states.every(
          (info) =>
            info.includes('cluster_state:ok') &&
            (info.includes('role:master') || info.includes('master_link_status:up')),
        );
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`cluster not healthy within ${timeoutMs} ms`);
        await delay(100);
      }
    },
    async stop() {
      await Promise.all(
        processes.filter((p): p is ManagedProcess => p !== null).map((p) => p.kill()),
      );
      realProcess.off('exit', cleanUpAtExit);
      removeRoot();
    },
  };
  await server.waitUntilHealthy();
  return server;
}
