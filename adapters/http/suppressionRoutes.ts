/**
 * The suppression API on the worker's port. The list holds personal data, so every route needs
 * `Authorization: Bearer <API_TOKEN>`; with no token configured the routes answer 503 — never
 * open. Request bodies are decoded with io-ts, like everything else that comes from outside.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isLeft } from 'fp-ts/Either';
import * as t from 'io-ts';
import { MAX_ADDRESS_LENGTH, normalizeEmailAddress, type EmailAddress } from '../../domain/address';
import { array, optional, struct } from '../../domain/codec/combinators';
import { fromValidationErrors } from '../../domain/codec/decodeError';
import type { SuppressionStore } from '../../domain/ports';
import {
  isSuppressionReason,
  listScope,
  noteProblem,
  parseScope,
  topicScope,
  type SuppressionReason,
  type SuppressionScope,
} from '../../domain/suppression';
import { ReplicationError } from '../redis/connection';
import { InvalidCursorError } from '../redis/suppressionStore';
import type { HttpRoutes } from './server';

export const MAX_CHECK_ADDRESSES = 10_000;
/**
 * The check's body: 10,000 of the longest addresses written entirely in `\uXXXX` escapes (6
 * characters each, quoted, comma-separated), plus room for the other fields.
 */
export const MAX_CHECK_BODY_BYTES = MAX_CHECK_ADDRESSES * (MAX_ADDRESS_LENGTH * 6 + 3) + 64 * 1024;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

export interface SuppressionRoutesOptions {
  readonly store: SuppressionStore;
  /** Null: the routes answer 503 and say how to turn them on. */
  readonly apiToken: string | null;
}

// The decoder's combinators: own fields only, and text must be well-formed Unicode.
const CheckBody = struct({
  addresses: array(t.string),
  contactList: optional(t.string),
  topic: optional(t.string),
});
const PutBody = struct({ scope: optional(t.string), note: optional(t.string) });

/** A client error: answered with 400 and this message. */
class BadRequest extends Error {}

export function suppressionRoutes(options: SuppressionRoutesOptions): HttpRoutes {
  const { store } = options;
  const authorize = makeAuthorizer(options.apiToken);

  return (app: FastifyInstance) => {
    void app.register((api, _options, done) => {
      api.addHook('onRequest', authorize);
      api.setErrorHandler((error: Error, _request, reply) => {
        if (error instanceof BadRequest || error instanceof InvalidCursorError)
          return reply.code(400).send({ error: error.message });
        const status = (error as { statusCode?: number }).statusCode;
        if (status !== undefined && status >= 400 && status < 500)
          return reply.code(status).send({ error: error.message });
        // REDIS_MIN_REPLICAS_ACK: the master holds the change, but a failover could still lose
        // it. Sending the request again is safe (the same change, applied again).
        if (error instanceof ReplicationError)
          return reply.code(503).send({
            error: `suppression change not confirmed by the Redis replicas (${error.message}); it may be lost on a failover: send the request again`,
          });
        // Redis down or slow: the caller may retry; nothing about the store leaks beyond that.
        return reply.code(503).send({ error: `suppression store unavailable: ${error.message}` });
      });

      api.get<{ Params: { address: string } }>('/suppressions/:address', async (request, reply) => {
        const address = addressParam(request.params.address);
        const record = await store.get(address);
        const suppressed = record.entries.length > 0;
        return reply.code(suppressed ? 200 : 404).send({ ...record, suppressed });
      });

      api.get<{ Querystring: Record<string, string | undefined> }>(
        '/suppressions',
        async (request) => {
          const { scope, reason, cursor, limit } = request.query;
          return store.list({
            ...(scope === undefined ? {} : { scope: scopeParam(scope) }),
            ...(reason === undefined ? {} : { reason: reasonParam(reason) }),
            ...(cursor === undefined || cursor === '' ? {} : { cursor }),
            limit: limitParam(limit),
          });
        },
      );

      api.post('/suppressions/check', { bodyLimit: MAX_CHECK_BODY_BYTES }, async (request) => {
        const body = decodeBody(CheckBody, request.body);
        if (body.addresses.length > MAX_CHECK_ADDRESSES)
          throw new BadRequest(
            `addresses: at most ${MAX_CHECK_ADDRESSES} per request, got ${body.addresses.length}`,
          );
        if (body.topic !== undefined && body.contactList === undefined)
          throw new BadRequest('topic: needs contactList (topics belong to a contact list)');
        const scopes: SuppressionScope[] = ['global'];
        if (body.contactList !== undefined) {
          scopes.push(checkedScope(listScope(body.contactList), 'contactList'));
          if (body.topic !== undefined)
            scopes.push(checkedScope(topicScope(body.contactList, body.topic), 'topic'));
        }
        const valid: EmailAddress[] = [];
        const invalid: { input: string; error: string }[] = [];
        const inputOf = new Map<EmailAddress, string>();
        for (const input of body.addresses) {
          const address = normalizeEmailAddress(input);
          if (address === null) invalid.push({ input, error: invalidAddress(input) });
          else if (!inputOf.has(address)) {
            inputOf.set(address, input);
            valid.push(address);
          }
        }
        const found = await store.check(valid, scopes);
        // In the order asked; a loop, not flatMap: 10,000 addresses, 9 in 10 not suppressed.
        const suppressed: CheckAnswer[] = [];
        for (const address of valid) {
          const entry = found.get(address);
          if (entry !== undefined)
            suppressed.push({
              address,
              input: inputOf.get(address)!,
              scope: entry.scope,
              reason: entry.reason,
              since: entry.firstAt,
            });
        }
        return { checked: body.addresses.length, suppressed, invalid };
      });

      api.put<{ Params: { address: string } }>('/suppressions/:address', async (request, reply) => {
        const address = addressParam(request.params.address);
        const body = decodeBody(PutBody, request.body ?? {});
        const noteTooLong = body.note === undefined ? null : noteProblem(body.note);
        if (noteTooLong !== null) throw new BadRequest(`note: ${noteTooLong}`);
        const scope = body.scope === undefined ? 'global' : scopeParam(body.scope);
        const [outcome] = await store.apply(
          address,
          [
            {
              type: 'suppress',
              scope,
              reason: 'manual',
              evidence: {
                at: new Date().toISOString(),
                kind: 'manual',
                ...(body.note === undefined ? {} : { note: body.note }),
              },
            },
          ],
          null,
        );
        const record = await store.get(address);
        return reply
          .code(outcome === 'added' ? 201 : 200)
          .send({ outcome, entry: record.entries.find((e) => e.scope === scope) ?? null });
      });

      api.delete<{ Params: { address: string }; Querystring: { scope?: string } }>(
        '/suppressions/:address',
        async (request, reply) => {
          const address = addressParam(request.params.address);
          const scope =
            request.query.scope === undefined ? 'global' : scopeParam(request.query.scope);
          const [outcome] = await store.apply(
            address,
            [{ type: 'remove', scope, evidence: { at: new Date().toISOString(), kind: 'manual' } }],
            null,
          );
          return reply
            .code(outcome === 'removed' ? 200 : 404)
            .send({ address, scope, removed: outcome === 'removed' });
        },
      );
      done();
    });
  };
}

function makeAuthorizer(apiToken: string | null) {
  // Compared as digests: equal length, so the comparison time says nothing about the token.
  const expected = apiToken === null ? null : digest(apiToken);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (expected === null) {
      return reply.code(503).send({
        error:
          'the suppression API is disabled: set API_TOKEN to turn it on (it holds personal data, so it is never open)',
      });
    }
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match === null || !timingSafeEqual(digest(match[1]!), expected)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="ses-worker"')
        .send({ error: 'missing or wrong bearer token (Authorization: Bearer $API_TOKEN)' });
    }
  };
}

const digest = (text: string) => createHash('sha256').update(text).digest();

const invalidAddress = (input: string) =>
  `invalid address ${JSON.stringify(input)}: expected one email address like user@example.com`;

function addressParam(raw: string): EmailAddress {
  const address = normalizeEmailAddress(raw);
  if (address === null) throw new BadRequest(invalidAddress(raw));
  return address;
}

function scopeParam(raw: string): SuppressionScope {
  const scope = parseScope(raw);
  if (scope === null)
    throw new BadRequest(
      `scope: expected global, list:<contactList> or topic:<contactList>:<topic>, got ${JSON.stringify(raw)}`,
    );
  return scope;
}

interface CheckAnswer {
  readonly address: EmailAddress;
  readonly input: string;
  readonly scope: SuppressionScope;
  readonly reason: SuppressionReason;
  readonly since: string;
}

function checkedScope(scope: string, field: string): SuppressionScope {
  const parsed = parseScope(scope);
  if (parsed === null)
    throw new BadRequest(`${field}: expected a name without ":" or spaces, up to 128 characters`);
  return parsed;
}

function reasonParam(raw: string) {
  if (!isSuppressionReason(raw))
    throw new BadRequest(
      `reason: expected complaint, bounce, transient-bounces, unsubscribe or manual, got ${JSON.stringify(raw)}`,
    );
  return raw;
}

function limitParam(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_PAGE;
  const limit = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE))
    throw new BadRequest(
      `limit: expected an integer from 1 to ${MAX_PAGE}, got ${JSON.stringify(raw)}`,
    );
  return limit;
}

function decodeBody<A>(codec: t.Decoder<unknown, A>, body: unknown): A {
  const decoded = codec.decode(body);
  if (isLeft(decoded)) throw new BadRequest(`body ${fromValidationErrors(decoded.left).message}`);
  return decoded.right;
}
