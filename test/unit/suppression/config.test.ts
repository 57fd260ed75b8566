/** The suppression variables: defaults, reading, and bad values named. */
import { ConfigError, loadConfig } from '../../../worker/config';

describe('suppression configuration', () => {
  it('defaults: 3 transient bounces in 7 days, markers for 30 days, 50 audit records per address', () => {
    expect(loadConfig({}).suppression).toEqual({
      policy: { transientThreshold: 3, transientWindowMs: 7 * 86_400_000 },
      store: {
        dedupeSeconds: 30 * 86_400,
        historyPerAddress: 50,
        auditMax: 100_000,
        replicasAck: { replicas: 0, timeoutMs: 2000 },
      },
    });
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        SUPPRESSION_TRANSIENT_THRESHOLD: '0',
        SUPPRESSION_TRANSIENT_WINDOW_SECONDS: '3600',
        SUPPRESSION_DEDUPE_SECONDS: '86400',
        SUPPRESSION_HISTORY_MAX: '10',
        SUPPRESSION_AUDIT_MAX: '5000',
        REDIS_MIN_REPLICAS_ACK: '1',
        REDIS_REPLICAS_ACK_TIMEOUT_MS: '500',
      }).suppression,
    ).toEqual({
      policy: { transientThreshold: 0, transientWindowMs: 3_600_000 },
      store: {
        dedupeSeconds: 86_400,
        historyPerAddress: 10,
        auditMax: 5000,
        replicasAck: { replicas: 1, timeoutMs: 500 },
      },
    });
  });

  it.each([
    ['SUPPRESSION_TRANSIENT_THRESHOLD', '-1', 'an integer from 0 to 1000'],
    ['SUPPRESSION_TRANSIENT_WINDOW_SECONDS', '0', 'an integer from 1 to 31536000'],
    ['SUPPRESSION_DEDUPE_SECONDS', '30', 'an integer from 60 to 31536000'],
  ])('%s=%s stops start-up naming the variable', (name, value, expected) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(
      `${name}: expected ${expected}, got "${value}"`,
    );
  });
});
