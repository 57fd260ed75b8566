/**
 * The suppression API over real HTTP (Node's fetch) on a real Redis, one server and a cluster:
 * authentication, every route, clear 400s, paging, the batch check, and a 503 when the replicas
 * do not confirm a change (REDIS_MIN_REPLICAS_ACK).
 */
import { Registry } from 'prom-client';
import { startHttpServer, type HttpServer } from '../../adapters/http/server';
import { MAX_CHECK_ADDRESSES, suppressionRoutes } from '../../adapters/http/suppressionRoutes';
import type { RedisClient } from '../../adapters/redis/connection';
import { makeSuppressionStore } from '../../adapters/redis/suppressionStore';
import type { EmailAddress } from '../../domain/address';
import type { SuppressionStore } from '../../domain/ports';
import { MAX_NOTE_BYTES } from '../../domain/suppression';
import { REDIS_MODES, startRedisUnderTest, type RedisUnderTest } from '../support/redisModes';

const TOKEN = 'test-token-0123456789';
let under: RedisUnderTest;
let redis: RedisClient;
let store: SuppressionStore;
let api: HttpServer;
let closed: HttpServer;

const start = (apiToken: string | null, routesStore: SuppressionStore = store) =>
  startHttpServer({
    port: 0,
    host: '127.0.0.1',
    registry: new Registry(),
    readiness: () => Promise.resolve({ ready: true, checks: {} }),
    routes: [suppressionRoutes({ store: routesStore, apiToken })],
  });

/** The answers' fields the tests read; everything else is checked with toMatchObject. */
interface Body {
  readonly error: string;
  readonly entries: readonly { readonly scope: string; readonly address: string }[];
  readonly history: readonly { readonly action: string }[];
  readonly suppressed: readonly { readonly address: string; readonly scope: string }[];
  readonly nextCursor: string | null;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Body;
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; token?: string | null; on?: HttpServer } = {},
): Promise<Answer> {
  const token = options.token === undefined ? TOKEN : options.token;
  const body =
    options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`http://127.0.0.1:${(options.on ?? api).port}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text === '' ? null : JSON.parse(text)) as Body,
  };
}

const bounce = (address: string, n: number) =>
  store.apply(
    address as EmailAddress,
    [
      {
        type: 'suppress',
        scope: 'global',
        reason: 'bounce',
        evidence: {
          at: '2026-11-20T10:00:00.000Z',
          kind: 'bounce',
          sesMessageId: `ses-${n}`,
          feedbackId: `feedback-${n}`,
          bounceType: 'Permanent',
          bounceSubType: 'General',
          diagnosticCode: 'smtp; 550 5.1.1 user unknown',
          source: 'app@example.org',
        },
      },
    ],
    `test/${n}`,
  );

describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  beforeAll(async () => {
    under = await startRedisUnderTest(mode);
    redis = under.connect({ maxRetriesPerRequest: 1 });
    store = makeSuppressionStore(redis, '{api-test}');
    [api, closed] = await Promise.all([start(TOKEN), start(null)]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([api?.close(), closed?.close()]);
    redis?.disconnect();
    await under?.stop();
  });

  describe('authentication', () => {
    it('with no API_TOKEN configured, every route answers 503 and says why', async () => {
      for (const [method, path] of [
        ['GET', '/suppressions/a@example.com'],
        ['GET', '/suppressions'],
        ['POST', '/suppressions/check'],
        ['PUT', '/suppressions/a@example.com'],
        ['DELETE', '/suppressions/a@example.com'],
      ] as const) {
        const answer = await call(method, path, {
          on: closed,
          ...(method === 'POST' ? { body: { addresses: [] } } : {}),
        });
        expect([method, path, answer.status]).toEqual([method, path, 503]);
        expect(answer.body.error).toMatch(/API_TOKEN/);
      }
    });

    it('a missing or wrong token gets 401 with a Bearer challenge', async () => {
      for (const token of [null, 'wrong', `${TOKEN}x`, TOKEN.slice(1)]) {
        const answer = await call('GET', '/suppressions', { token });
        expect(answer.status).toBe(401);
        expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
      expect((await call('GET', '/suppressions')).status).toBe(200);
    });

    it('health, readiness and metrics stay open', async () => {
      for (const path of ['/healthz', '/readyz', '/metrics']) {
        const response = await fetch(`http://127.0.0.1:${closed.port}${path}`);
        expect([path, response.status]).toEqual([path, 200]);
      }
    });
  });

  describe('GET /suppressions/{address}', () => {
    it('explains a suppressed address: reason, since when, which notification', async () => {
      await bounce('Jane.Doe@Example.com'.toLowerCase(), 1);
      const answer = await call(
        'GET',
        `/suppressions/${encodeURIComponent('Jane.Doe@EXAMPLE.com')}`,
      );
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        address: 'jane.doe@example.com',
        suppressed: true,
        entries: [
          {
            scope: 'global',
            reason: 'bounce',
            firstAt: '2026-11-20T10:00:00.000Z',
            count: 1,
            evidence: { sesMessageId: 'ses-1', feedbackId: 'feedback-1', bounceSubType: 'General' },
          },
        ],
        history: [{ action: 'added', scope: 'global', reason: 'bounce' }],
      });
    });

    it('404 for an address not on the list; 400 for what is not an address', async () => {
      expect(await call('GET', '/suppressions/nobody@example.com')).toMatchObject({
        status: 404,
        body: { suppressed: false, entries: [] },
      });
      const bad = await call('GET', '/suppressions/not-an-address');
      expect(bad.status).toBe(400);
      expect(bad.body.error).toBe(
        'invalid address "not-an-address": expected one email address like user@example.com',
      );
    });
  });

  describe('PUT and DELETE /suppressions/{address}', () => {
    it('adds manually (201, then 200), audited, and removes (200, then 404)', async () => {
      const put = await call('PUT', '/suppressions/manual@example.com', {
        body: { note: 'asked by support, ticket 123' },
      });
      expect(put.status).toBe(201);
      expect(put.body).toMatchObject({
        outcome: 'added',
        entry: {
          scope: 'global',
          reason: 'manual',
          evidence: { kind: 'manual', note: 'asked by support, ticket 123' },
        },
      });
      expect((await call('PUT', '/suppressions/manual@example.com')).status).toBe(200);
      const listed = await call('PUT', '/suppressions/manual@example.com', {
        body: { scope: 'list:Newsletter' },
      });
      expect(listed).toMatchObject({ status: 201, body: { entry: { scope: 'list:Newsletter' } } });

      expect(await call('DELETE', '/suppressions/manual@example.com')).toMatchObject({
        status: 200,
        body: { removed: true, scope: 'global' },
      });
      expect((await call('DELETE', '/suppressions/manual@example.com')).status).toBe(404);
      const after = await call('GET', '/suppressions/manual@example.com');
      expect(after.body.entries.map((e: { scope: string }) => e.scope)).toEqual([
        'list:Newsletter',
      ]);
      expect(after.body.history.map((h: { action: string }) => h.action)).toEqual([
        'removed',
        'added',
        'updated',
        'added',
      ]);
    });

    it('400 for a bad scope or body', async () => {
      const scope = await call('PUT', '/suppressions/x@example.com', {
        body: { scope: 'everywhere' },
      });
      expect(scope.status).toBe(400);
      expect(scope.body.error).toMatch(/^scope: expected global, list:<contactList> or topic:/);
      const note = await call('PUT', '/suppressions/x@example.com', { body: { note: 42 } });
      expect(note.status).toBe(400);
      expect(note.body.error).toMatch(/note/);
      expect((await call('DELETE', '/suppressions/x@example.com?scope=list:')).status).toBe(400);
    });
  });

  describe('GET /suppressions', () => {
    it('pages with a cursor, filters by scope and reason, rejects bad parameters', async () => {
      for (let i = 0; i < 25; i++)
        await bounce(`paged-${String(i).padStart(2, '0')}@list.test`, 100 + i);
      const seen: string[] = [];
      let cursor: string | null = '';
      while (cursor !== null) {
        const query: string = `?scope=global&reason=bounce&limit=10${cursor ? `&cursor=${cursor}` : ''}`;
        const page = await call('GET', `/suppressions${query}`);
        expect(page.status).toBe(200);
        expect(page.body.entries.length).toBeLessThanOrEqual(10);
        seen.push(...page.body.entries.map((e: { address: string }) => e.address));
        cursor = page.body.nextCursor;
      }
      // In the store's order (by bucket, then address): each once, none left out.
      const paged = seen.filter((a) => a.endsWith('@list.test'));
      expect([...paged].sort()).toEqual(
        Array.from({ length: 25 }, (_, i) => `paged-${String(i).padStart(2, '0')}@list.test`),
      );
      expect(new Set(seen).size).toBe(seen.length);

      for (const query of [
        '?limit=0',
        '?limit=1001',
        '?limit=ten',
        '?reason=spam',
        '?scope=topic:x',
        '?cursor=@@',
      ]) {
        const answer = await call('GET', `/suppressions${query}`);
        expect([query, answer.status]).toEqual([query, 400]);
        expect(typeof answer.body.error).toBe('string');
      }
    });
  });

  describe('POST /suppressions/check', () => {
    it('answers which of 10,000 addresses are suppressed, and which are not addresses', async () => {
      await bounce('checked-7@check.test', 500);
      await store.apply(
        'checked-8@check.test' as EmailAddress,
        [
          {
            type: 'suppress',
            scope: 'topic:News:Weekly',
            reason: 'unsubscribe',
            evidence: { at: '2026-11-21T00:00:00.000Z', kind: 'subscription' },
          },
        ],
        null,
      );
      const addresses = Array.from(
        { length: MAX_CHECK_ADDRESSES - 1 },
        (_, i) => `Checked-${i}@Check.test`,
      );
      addresses.push('no address');
      const plain = await call('POST', '/suppressions/check', { body: { addresses } });
      expect(plain.status).toBe(200);
      expect(plain.body).toEqual({
        checked: MAX_CHECK_ADDRESSES,
        suppressed: [
          {
            address: 'checked-7@check.test',
            input: 'Checked-7@Check.test',
            scope: 'global',
            reason: 'bounce',
            since: '2026-11-20T10:00:00.000Z',
          },
        ],
        invalid: [
          { input: 'no address', error: expect.stringMatching(/^invalid address "no address"/) },
        ],
      });

      const withTopic = await call('POST', '/suppressions/check', {
        body: { addresses, contactList: 'News', topic: 'Weekly' },
      });
      expect(
        withTopic.body.suppressed.map(
          (s: { address: string; scope: string }) => `${s.address} ${s.scope}`,
        ),
      ).toEqual(['checked-7@check.test global', 'checked-8@check.test topic:News:Weekly']);
    });

    it('400 for too many addresses, a topic without its list, or a malformed body', async () => {
      const tooMany = await call('POST', '/suppressions/check', {
        body: {
          addresses: Array.from({ length: MAX_CHECK_ADDRESSES + 1 }, (_, i) => `a${i}@x.test`),
        },
      });
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.error).toMatch(/at most 10000/);
      const topic = await call('POST', '/suppressions/check', {
        body: { addresses: [], topic: 'Weekly' },
      });
      expect(topic).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/contactList/) },
      });
      const malformed = await call('POST', '/suppressions/check', {
        body: { addresses: 'a@x.test' },
      });
      expect(malformed).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/addresses/) },
      });
    });
  });

  describe('limits', () => {
    /** `local@x.test` of exactly `length` characters, its local part made of `char`. */
    const addressOf = (length: number, char = 'a') =>
      `${char.repeat(length - '@x.test'.length)}@x.test`;

    it.each([
      ['101 characters', addressOf(101)],
      ['320 characters, the longest address', addressOf(320)],
      ['320 non-ASCII characters (2,880 percent-encoded)', addressOf(320, '\u0800')],
    ])('an address of %s works in every route', async (_label, address) => {
      const path = `/suppressions/${encodeURIComponent(address)}`;
      expect((await call('PUT', path)).status).toBe(201);
      expect(await call('GET', path)).toMatchObject({ status: 200, body: { address } });
      expect(await call('GET', `/suppressions?scope=global&limit=1000`)).toMatchObject({
        status: 200,
        body: { entries: expect.arrayContaining([expect.objectContaining({ address })]) },
      });
      expect((await call('DELETE', path)).status).toBe(200);
      expect((await call('GET', path)).status).toBe(404);
    });

    it(`a note of more than ${MAX_NOTE_BYTES} bytes gets a 400 naming it, and changes nothing`, async () => {
      const path = '/suppressions/noted@x.test';
      const tooLong = await call('PUT', path, {
        body: { note: 'é'.repeat(MAX_NOTE_BYTES / 2 + 1) },
      });
      expect(tooLong).toMatchObject({
        status: 400,
        body: { error: `note: at most ${MAX_NOTE_BYTES} bytes (UTF-8), got ${MAX_NOTE_BYTES + 2}` },
      });
      expect((await call('GET', path)).body.history).toEqual([]);
      const longest = await call('PUT', path, { body: { note: 'n'.repeat(MAX_NOTE_BYTES) } });
      expect(longest.status).toBe(201);
    });

    it('text with a lone surrogate gets a 400 naming where it is', async () => {
      const note = await call('PUT', '/suppressions/lone@x.test', {
        rawBody: '{"note":"a\\ud800"}',
      });
      expect(note).toMatchObject({
        status: 400,
        body: { error: 'body at note: expected well-formed Unicode text, got string "a\\ud800"' },
      });
      const check = await call('POST', '/suppressions/check', {
        rawBody: '{"addresses":["ok@x.test","\\udc00@x.test"]}',
      });
      expect(check).toMatchObject({
        status: 400,
        body: {
          error: expect.stringMatching(/^body at addresses\[1\]: expected well-formed Unicode/),
        },
      });
      // U+FFFD is text: a distinct, valid address, not the same key as a surrogate.
      const replacement = await call('POST', '/suppressions/check', {
        rawBody: '{"addresses":["\\ufffd@x.test"]}',
      });
      expect(replacement).toMatchObject({ status: 200, body: { checked: 1, invalid: [] } });
    });

    it(`the check takes ${MAX_CHECK_ADDRESSES} of the longest addresses written in \\u escapes`, async () => {
      const escaped = '\\u00e9'.repeat(320 - '@x.test'.length);
      const addresses = Array.from(
        { length: MAX_CHECK_ADDRESSES },
        (_, i) => `"${escaped.slice(0, escaped.length - 6 * String(i).length)}${i}@x.test"`,
      );
      const rawBody = `{"addresses":[${addresses.join(',')}]}`;
      expect(rawBody.length).toBeGreaterThan(18_000_000); // 4.5 times the old limit, 4 MiB
      const answer = await call('POST', '/suppressions/check', { rawBody });
      expect(answer).toMatchObject({
        status: 200,
        body: { checked: MAX_CHECK_ADDRESSES, invalid: [] },
      });
    });
  });

  describe('REDIS_MIN_REPLICAS_ACK', () => {
    it('a change the replicas do not confirm in time answers 503 and says so', async () => {
      // More replicas than each master has: none on one server, one each on the cluster.
      const replicas = mode === 'single' ? 1 : 2;
      const strict = await start(
        TOKEN,
        makeSuppressionStore(redis, '{api-strict}', {
          dedupeSeconds: 3600,
          historyPerAddress: 50,
          auditMax: 1000,
          replicasAck: { replicas, timeoutMs: 100 },
        }),
      );
      try {
        for (const [method, path] of [
          ['PUT', '/suppressions/unconfirmed@example.com'],
          ['DELETE', '/suppressions/unconfirmed@example.com'],
        ] as const) {
          const answer = await call(method, path, { on: strict });
          expect([method, answer.status]).toEqual([method, 503]);
          expect(answer.body.error).toBe(
            `suppression change not confirmed by the Redis replicas (${replicas - 1} of ${replicas} replicas confirmed the writes within 100 ms); it may be lost on a failover: send the request again`,
          );
        }
        // Reads wait for nothing.
        expect(
          (await call('GET', '/suppressions/unconfirmed@example.com', { on: strict })).status,
        ).toBe(404);
      } finally {
        await strict.close();
      }
    });
  });
});
