/**
 * The suppression list end to end, as users meet it: the SES documentation's Bounce and
 * Complaint samples published through SNS to a running worker, then explained by
 * `GET /suppressions/{address}`; and the `ses-worker suppression` commands on the built CLI,
 * against one Redis server (REDIS_URL) and a cluster (REDIS_CLUSTER_NODES).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRight } from 'fp-ts/Either';
import { createSesTopology } from '../../adapters/emulator/topology';
import { decodeSqsBody } from '../../domain/decode';
import { routeEvent } from '../../domain/routing';
import { DEFAULT_SUPPRESSION_POLICY, suppressionChanges } from '../../domain/suppression';
import type { RedisClient } from '../../adapters/redis/connection';
import type { EmailAddress } from '../../domain/address';
import { eventually } from '../support/await';
import { useServers } from '../support/environment';
import { fixtureNames, fixtureText } from '../support/fixtures';
import { writeLegacyLayout } from '../support/legacySuppressionWriter';
import { REDIS_MODES, startRedisUnderTest, type RedisUnderTest } from '../support/redisModes';
import { seedSamples } from '../support/seeds';
import { publishAll } from '../support/sqs';
import { CLI, spawnWorker, type WorkerProcess } from '../support/workerProcess';

const servers = useServers();
const TOKEN = 'e2e-token';
const children: WorkerProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.child.exitCode === null) child.child.kill('SIGTERM');
    await child.exited;
  }
});

/**
 * The seeds' bounce and complaint samples (event publishing), and the fixtures' (notifications,
 * every subtype), with the suppression each must cause.
 */
function seedBouncesAndComplaints() {
  const expected = new Map<string, { reason: string; feedbackId: string | undefined }>();
  const bodies: string[] = [];
  const samples = [
    ...seedSamples().map((sample) => JSON.stringify(sample.json)),
    ...fixtureNames('notifications').map(fixtureText),
  ];
  for (const body of samples) {
    const decoded = decodeSqsBody(body);
    if (!isRight(decoded)) continue;
    if (decoded.right.kind !== 'bounce' && decoded.right.kind !== 'complaint') continue;
    bodies.push(body);
    for (const spec of routeEvent(decoded.right)) {
      if (spec.queue !== 'suppression') continue;
      const job = spec.data;
      for (const change of suppressionChanges(job, DEFAULT_SUPPRESSION_POLICY)) {
        if (change.type !== 'suppress') continue;
        const known = expected.get(job.address);
        // A complaint outranks a bounce for the same address.
        if (known === undefined || change.reason === 'complaint')
          expected.set(job.address, {
            reason: change.reason,
            feedbackId: change.evidence.feedbackId,
          });
      }
    }
  }
  return { bodies, expected };
}

it('seed bounces and complaints published through SNS are suppressed, and the API says why', async () => {
  const { bodies, expected } = seedBouncesAndComplaints();
  expect(bodies.length).toBeGreaterThanOrEqual(10);
  expect(expected.size).toBeGreaterThanOrEqual(5);

  const topology = await createSesTopology(servers.sqs, servers.sns, { name: 'e2e-suppression' });
  const worker = spawnWorker({
    SQS_QUEUE_URL: topology.queueUrl,
    SQS_DLQ_URL: topology.dlqUrl,
    AWS_REGION: servers.emulator.region,
    AWS_ENDPOINT_URL: servers.emulator.endpoint,
    REDIS_URL: servers.redisServer.url,
    BULLMQ_PREFIX: '{e2e-suppression}',
    API_TOKEN: TOKEN,
  });
  children.push(worker);
  const port = await worker.httpPort();
  await publishAll(servers.sns, topology.topicArn, bodies);

  const lookup = async (address: string) => {
    const response = await fetch(
      `http://127.0.0.1:${port}/suppressions/${encodeURIComponent(address)}`,
      { headers: { authorization: `Bearer ${TOKEN}` } },
    );
    return {
      status: response.status,
      body: (await response.json()) as {
        entries: { reason: string; evidence: { sesMessageId?: string } }[];
      },
    };
  };
  for (const [address, why] of expected) {
    const answer = await eventually(async () => {
      const found = await lookup(address);
      // Another notification for the address may still be on its way (a complaint after a bounce).
      return found.status === 200 && found.body.entries[0]?.reason === why.reason ? found : null;
    }, `${address} suppressed`);
    expect(answer.body.entries[0]).toMatchObject({
      scope: 'global',
      reason: why.reason,
      evidence: { feedbackId: why.feedbackId },
    });
    expect(answer.body.entries[0]?.evidence.sesMessageId).toEqual(expect.any(String));
  }
  // Without the token, nothing.
  const anonymous = await fetch(`http://127.0.0.1:${port}/suppressions`);
  expect(anonymous.status).toBe(401);
});

describe.each(REDIS_MODES)('ses-worker suppression on %s Redis', (mode) => {
  let under: RedisUnderTest;
  let redis: RedisClient;
  beforeAll(async () => {
    under = await startRedisUnderTest(mode);
    redis = under.connect({ maxRetriesPerRequest: 1 });
  }, 90_000);
  afterAll(async () => {
    redis?.disconnect();
    await under?.stop();
  });
  const env = () => ({
    PATH: process.env.PATH ?? '',
    ...under.env,
    BULLMQ_PREFIX: '{e2e-cli}',
  });
  // The note limit's checks, apart: were one to fail, the import test's counts would not move.
  const notes = '{e2e-cli-notes}';
  const cli = (args: string[], input?: string, prefix?: string) => {
    const result = spawnSync(process.execPath, [CLI, 'suppression', ...args], {
      env: { ...env(), ...(prefix === undefined ? {} : { BULLMQ_PREFIX: prefix }) },
      encoding: 'utf8',
      timeout: 30_000,
      ...(input === undefined ? {} : { input }),
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const lines = (text: string) =>
    text
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('add, get, list and remove, with exit codes a script can use', () => {
    expect(lines(cli(['add', 'Ops@Example.com', '--note', 'ticket 7']).stdout)).toEqual([
      { address: 'ops@example.com', scope: 'global', outcome: 'added' },
    ]);
    const got = cli(['get', 'ops@example.com']);
    expect(got.code).toBe(0);
    expect(lines(got.stdout)[0]).toMatchObject({
      suppressed: true,
      entries: [{ reason: 'manual', evidence: { note: 'ticket 7' } }],
    });
    expect(lines(cli(['list', '--reason', 'manual']).stdout).map((e) => e.address)).toContain(
      'ops@example.com',
    );
    expect(cli(['remove', 'ops@example.com']).code).toBe(0);
    expect(cli(['remove', 'ops@example.com']).code).toBe(1);
    expect(cli(['get', 'ops@example.com']).code).toBe(1);
  });

  it('imports CSV (SES export headers too) idempotently, reports bad rows, and round-trips through export', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ses-worker-import-'));
    const csv = join(dir, 'list.csv');
    const rows = Array.from(
      { length: 3000 },
      (_, i) =>
        `imported-${i}@example.net,${i % 2 === 0 ? 'BOUNCE' : 'COMPLAINT'},2026-10-01T00:00:00Z`,
    );
    writeFileSync(
      csv,
      ['EmailAddress,Reason,LastUpdateTime', ...rows, 'nonsense,BOUNCE,', ''].join('\n'),
    );

    const first = cli(['import', csv]);
    expect(first.code).toBe(65);
    expect(lines(first.stdout)).toEqual([{ rows: 3001, added: 3000, invalid: 1 }]);
    expect(first.stderr).toContain('skipped line 3002: invalid address "nonsense"');
    // Not a terminal: progress as plain lines (at least the final one), never a bar's escapes.
    expect(first.stderr.includes('\u001b[')).toBe(false);

    expect(lines(cli(['import', csv]).stdout)).toEqual([
      { rows: 3001, unchanged: 3000, invalid: 1 },
    ]);

    const exported = join(dir, 'export.jsonl');
    const exportRun = cli(['export', '--reason', 'complaint', '-o', exported]);
    expect(exportRun.code).toBe(0);
    const entries = lines(readFileSync(exported, 'utf8'));
    expect(entries).toHaveLength(1500);
    expect(entries[0]).toMatchObject({ reason: 'complaint', firstAt: '2026-10-01T00:00:00.000Z' });

    // Into another prefix: restored exactly as exported.
    const restore = spawnSync(process.execPath, [CLI, 'suppression', 'import', exported], {
      env: { ...env(), BULLMQ_PREFIX: '{e2e-cli-restored}' },
      encoding: 'utf8',
    });
    expect(lines(restore.stdout)).toEqual([{ rows: 1500, imported: 1500, invalid: 0 }]);
    const again = spawnSync(process.execPath, [CLI, 'suppression', 'export'], {
      env: { ...env(), BULLMQ_PREFIX: '{e2e-cli-restored}' },
      encoding: 'utf8',
    });
    expect(lines(again.stdout)).toEqual(entries);

    const csvExport = cli(['export', '--format', 'csv', '--reason', 'bounce'])
      .stdout.trim()
      .split('\n');
    expect(csvExport[0]).toMatch(/^address,scope,reason,first_at,last_at,count,/);
    expect(csvExport).toHaveLength(1501);

    // A reader slower than the export: stdout is read only once the command has said it is
    // done, so whatever a pipe had not taken by then is lost unless the exit waits for it.
    const slow = spawn(process.execPath, [CLI, 'suppression', 'export', '--format', 'csv'], {
      env: env(),
    });
    slow.stdout.pause();
    let stderr = '';
    slow.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (stderr.includes('exported 3000 entries')) slow.stdout.resume();
    });
    let piped = '';
    slow.stdout.on('data', (chunk: Buffer) => (piped += chunk.toString('utf8')));
    const [code] = (await once(slow, 'close')) as [number];
    expect(code).toBe(0);
    expect(piped.trim().split('\n')).toHaveLength(3001);
  });

  // What follows depends on no Redis at all, or on nothing the server kind changes.
  if (mode === 'single')
    it('refuses bad arguments, and notes over the API’s limit, row by row on import', () => {
      const bad = cli(['get', 'not an address']);
      expect(bad.code).toBe(65);
      expect(bad.stderr).toBe(
        'ses-worker: invalid address "not an address": expected one email address like user@example.com\n',
      );
      expect(cli(['add', 'x@example.com', '--scope', 'nowhere']).code).toBe(64);

      // The API's note limit: 1,024 bytes of UTF-8 (513 × é is 1,026 bytes in 513 characters).
      const longNote = cli(['add', 'x@example.com', '--note', 'é'.repeat(513)], undefined, notes);
      expect(longNote.code).toBe(64);
      expect(longNote.stderr).toBe('ses-worker: --note: at most 1024 bytes (UTF-8), got 1026\n');
      expect(cli(['get', 'x@example.com'], undefined, notes).code).toBe(1);
      expect(cli(['add', 'x@example.com', '--note', 'n'.repeat(1024)], undefined, notes).code).toBe(
        0,
      );
      expect(
        cli(['remove', 'x@example.com', '--note', 'n'.repeat(1025)], undefined, notes).code,
      ).toBe(64);

      // A row whose note is over the limit is skipped like any bad row; the others are added.
      const rowsWithNotes = [
        { address: 'noted-1@example.net', note: 'n'.repeat(1024) },
        { address: 'noted-2@example.net', note: 'é'.repeat(513) },
        { address: 'noted-3@example.net' },
      ];
      const noted = cli(
        ['import', '-', '--format', 'jsonl'],
        rowsWithNotes.map((row) => JSON.stringify(row)).join('\n'),
        notes,
      );
      expect(noted.code).toBe(65);
      expect(lines(noted.stdout)).toEqual([{ rows: 3, added: 2, invalid: 1 }]);
      expect(noted.stderr).toContain(
        'skipped line 2: note: at most 1024 bytes (UTF-8), got 1026\n',
      );
      expect(cli(['get', 'noted-2@example.net'], undefined, notes).code).toBe(1);
      expect(cli(['get', 'noted-3@example.net'], undefined, notes).code).toBe(0);
      // The note for rows without one is checked before any row is read.
      const defaultNote = cli(['import', '-', '--note', 'n'.repeat(1025)], '', notes);
      expect(defaultNote.code).toBe(64);
      expect(defaultNote.stderr).toBe('ses-worker: --note: at most 1024 bytes (UTF-8), got 1025\n');
    });

  it('a change the replicas do not confirm (REDIS_MIN_REPLICAS_ACK) exits 69 and says so', () => {
    // More replicas than each master has: none on one server, one each on the cluster.
    const replicas = mode === 'single' ? 1 : 2;
    const result = spawnSync(process.execPath, [CLI, 'suppression', 'add', 'acked@example.com'], {
      env: {
        ...env(),
        BULLMQ_PREFIX: '{e2e-cli-acks}',
        REDIS_MIN_REPLICAS_ACK: String(replicas),
        REDIS_REPLICAS_ACK_TIMEOUT_MS: '100',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(69);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `ses-worker: the change is on the Redis master but its replicas did not confirm it (${replicas - 1} of ${replicas} replicas confirmed the writes within 100 ms): a failover could lose it; run the command again (REDIS_MIN_REPLICAS_ACK)\n`,
    );
  });

  it('migrate moves a list the version before buckets wrote, and says what it moved', async () => {
    const prefix = '{e2e-cli-legacy}';
    const to = 'legacy@example.com' as EmailAddress;
    await writeLegacyLayout(redis, prefix, [
      {
        address: to,
        changes: [
          {
            type: 'suppress',
            scope: 'global',
            reason: 'bounce',
            evidence: { at: '2026-10-01T00:00:00.000Z', kind: 'bounce', feedbackId: 'old-1' },
          },
        ],
        eventKey: `suppression/bounce/old-1/${to}`,
      },
    ]);
    const migrated = cli(['migrate'], undefined, prefix);
    expect(migrated.code).toBe(0);
    expect(lines(migrated.stdout)).toEqual([
      {
        pass: 1,
        entries: 1,
        transientHistories: 0,
        optIns: 0,
        histories: 1,
        markers: 1,
        remaining: false,
      },
    ]);
    const got = cli(['get', to], undefined, prefix);
    expect(got.code).toBe(0);
    expect(lines(got.stdout)[0]).toMatchObject({
      entries: [{ reason: 'bounce', evidence: { feedbackId: 'old-1' } }],
      history: [{ action: 'added' }],
    });
    expect(await redis.exists(`${prefix}:suppression:scope:global`)).toBe(0);
  });
});
