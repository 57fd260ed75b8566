/** Where each queue's keys go: our names outside, one hash tag per queue inside. */
import calculateSlot from 'cluster-key-slot';
import { queueLocation } from '../../../adapters/bullmq/layout';
import { QUEUE_NAMES } from '../../../domain/jobs';
import { REPUTATION_BUCKETS, reputationBucket } from '../../../domain/reputation';

it('each queue is its own hash tag under the prefix without braces; braces in the prefix change nothing', () => {
  expect(queueLocation('{ses}', 'suppression')).toEqual({ prefix: 'ses', name: '{suppression}' });
  expect(queueLocation('ses', 'suppression')).toEqual(queueLocation('{ses}', 'suppression'));
  expect(queueLocation('{mail}', 'ses-sync')).toEqual({ prefix: 'mail', name: '{ses-sync}' });
});

it('the previous layout is the prefix as written and the plain name', () => {
  expect(queueLocation('{ses}', 'metrics', 'previous')).toEqual({
    prefix: '{ses}',
    name: 'metrics',
  });
});

it('a queue’s keys share one slot; the queues’ slots differ', () => {
  const slots = QUEUE_NAMES.map((name) => {
    const at = queueLocation('{ses}', name);
    const keySlots = ['wait', 'active', 'id', 'meta', 'events', 'job-1'].map((type) =>
      calculateSlot(`${at.prefix}:${at.name}:${type}`),
    );
    expect(new Set(keySlots).size).toBe(1);
    return keySlots[0];
  });
  expect(new Set(slots).size).toBe(QUEUE_NAMES.length);
});

it('event ids spread evenly over the reputation buckets', () => {
  const counts = new Array<number>(REPUTATION_BUCKETS).fill(0);
  for (let i = 0; i < 16_000; i++) counts[reputationBucket(`bounce/0100018f-${i}-recipient`)]!++;
  expect(Math.min(...counts)).toBeGreaterThan(800);
  expect(Math.max(...counts)).toBeLessThan(1200);
  expect(reputationBucket('send/abc')).toBe(reputationBucket('send/abc'));
});
