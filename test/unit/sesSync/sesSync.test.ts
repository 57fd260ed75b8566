/** The SES sync's pure parts: reason mapping, who owns SES's copy, job ids, configuration. */
import type { EmailAddress } from '../../../domain/address';
import {
  deletesFromSes,
  reasonForSes,
  sesHolds,
  sesReasonFor,
  sesSyncJobId,
  sesTarget,
  type SesSyncRecord,
} from '../../../domain/sesSync';
import { SUPPRESSION_REASONS, type SuppressionEntry } from '../../../domain/suppression';
import { configOrExit, ConfigError, loadConfig } from '../../../worker/config';
import { redactText } from '../../../domain/redact';
import { sesRequestSpacingMs, sesSyncBackoff } from '../../../worker/sesSync';

const address = 'someone@example.com' as EmailAddress;
const record = (fields: Partial<SesSyncRecord>): SesSyncRecord => ({
  sesReason: null,
  pushedAt: null,
  sesHadIt: false,
  pulledLastUpdateTime: null,
  ...fields,
});
const entry = (fields: Partial<SuppressionEntry>): SuppressionEntry => ({
  address,
  scope: 'global',
  reason: 'bounce',
  firstAt: '2026-11-01T00:00:00.000Z',
  lastAt: '2026-11-01T00:00:00.000Z',
  count: 1,
  evidence: { at: '2026-11-01T00:00:00.000Z', kind: 'manual' },
  latest: { at: '2026-11-01T00:00:00.000Z', kind: 'manual' },
  ...fields,
});

describe('reason mapping', () => {
  it('complaint is COMPLAINT; bounce, transient-bounces and manual are BOUNCE; unsubscribe is not SES’s', () => {
    expect(Object.fromEntries(SUPPRESSION_REASONS.map((r) => [r, sesReasonFor(r)]))).toEqual({
      complaint: 'COMPLAINT',
      bounce: 'BOUNCE',
      'transient-bounces': 'BOUNCE',
      unsubscribe: null,
      manual: 'BOUNCE',
    });
    expect(reasonForSes('COMPLAINT')).toBe('complaint');
    expect(reasonForSes('BOUNCE')).toBe('bounce');
  });

  it('scoped entries are never pushed', () => {
    expect(sesTarget(entry({ reason: 'complaint' }))).toBe('COMPLAINT');
    expect(sesTarget(entry({ reason: 'complaint', scope: 'list:news' }))).toBeNull();
    expect(sesTarget(entry({ reason: 'bounce', scope: 'topic:news:weekly' }))).toBeNull();
  });
});

describe('who owns SES’s copy', () => {
  it('a lift deletes only what the worker put, never what SES had', () => {
    expect(deletesFromSes(null)).toBe(false);
    expect(deletesFromSes(record({ pushedAt: 1, sesReason: 'BOUNCE' }))).toBe(true);
    expect(deletesFromSes(record({ pushedAt: 1, sesHadIt: true }))).toBe(false);
    expect(deletesFromSes(record({ sesReason: 'BOUNCE', sesHadIt: true }))).toBe(false);
  });

  it('SES holding a complaint covers a bounce, not the other way round', () => {
    expect(sesHolds(null, 'BOUNCE')).toBe(false);
    expect(sesHolds(record({ sesReason: 'COMPLAINT' }), 'BOUNCE')).toBe(true);
    expect(sesHolds(record({ sesReason: 'BOUNCE' }), 'COMPLAINT')).toBe(false);
    expect(sesHolds(record({ sesReason: 'BOUNCE' }), 'BOUNCE')).toBe(true);
  });
});

describe('job ids', () => {
  it('carry the step, the reason and the generation, so a new generation is a new job', () => {
    const check = { step: 'check', address, reason: 'BOUNCE' } as const;
    expect(sesSyncJobId(check, 1000)).toBe('ses-sync/check/BOUNCE/1000/someone@example.com');
    expect(sesSyncJobId(check, 2000)).not.toBe(sesSyncJobId(check, 1000));
    expect(sesSyncJobId({ ...check, reason: 'COMPLAINT' }, 1000)).not.toBe(
      sesSyncJobId(check, 1000),
    );
    expect(sesSyncJobId({ step: 'delete', address }, 5)).toBe(
      'ses-sync/delete/5/someone@example.com',
    );
  });
});

describe('pacing and retries', () => {
  it('spaces requests 25 % wider than the rate asks', () => {
    expect(sesRequestSpacingMs(1)).toBe(1250);
    expect(sesRequestSpacingMs(5)).toBe(250);
  });

  it('backs off exponentially with jitter, capped at 64 times the first delay and a minute', () => {
    const backoff = sesSyncBackoff(2000);
    for (let attempt = 1; attempt <= 20; attempt++) {
      const base = Math.min(2000 * 2 ** Math.min(attempt - 1, 6), 60_000);
      const delay = backoff(attempt, 'ses-sync-capped');
      expect(delay).toBeGreaterThanOrEqual(base * 0.5);
      expect(delay).toBeLessThanOrEqual(base * 1.5);
    }
  });
});

describe('configuration', () => {
  it('is off by default, at one request a second, pulling hourly', () => {
    expect(loadConfig({}).sesSync).toEqual({
      mode: 'off',
      ratePerSecond: 1,
      pullIntervalMs: 3_600_000,
      importBucket: null,
      region: null,
      s3CustomEndpoint: false,
    });
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        SES_SUPPRESSION_SYNC: 'both',
        SES_SYNC_RATE_PER_SECOND: '14',
        SES_SYNC_PULL_INTERVAL_SECONDS: '600',
        SES_SYNC_IMPORT_BUCKET: 'my-imports',
        AWS_REGION: 'eu-west-1',
        AWS_ENDPOINT_URL_SESV2: 'http://localhost:4566',
      }).sesSync,
    ).toEqual({
      mode: 'both',
      ratePerSecond: 14,
      pullIntervalMs: 600_000,
      importBucket: 'my-imports',
      region: 'eu-west-1',
      s3CustomEndpoint: false,
    });
  });

  it.each([
    ['SES_SUPPRESSION_SYNC', 'sometimes'],
    ['SES_SYNC_RATE_PER_SECOND', '0'],
    ['SES_SYNC_PULL_INTERVAL_SECONDS', '5'],
    ['SES_SYNC_IMPORT_BUCKET', 'Not_A_Bucket'],
    ['AWS_ENDPOINT_URL_SESV2', 'ftp://x'],
  ])('%s=%s stops start-up with one line naming it, exit 78', (name, value) => {
    const err: string[] = [];
    expect(configOrExit({ [name]: value }, { stderr: { write: (t: string) => err.push(t) } })).toBe(
      78,
    );
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(new RegExp(`^ses-worker: configuration: ${name}: expected .*\\n$`));
  });

  it('a mode other than off needs the region', () => {
    expect(() => loadConfig({ SES_SUPPRESSION_SYNC: 'push' })).toThrow(ConfigError);
    expect(() => loadConfig({ SES_SUPPRESSION_SYNC: 'push' })).toThrow(/^AWS_REGION: /);
  });
});

describe('log lines', () => {
  it('never carry an address from an SES or BullMQ error', () => {
    expect(
      redactText(
        'could not renew lock for job ses-sync/check/COMPLAINT/1715680931532/complainer-3901@example.com',
      ),
    ).toBe('could not renew lock for job ses-sync/check/COMPLAINT/1715680931532/<address>');
    expect(redactText('PutSuppressedDestination: BadRequestException: "a@b.org" refused')).toBe(
      'PutSuppressedDestination: BadRequestException: "<address>" refused',
    );
  });
});
