/**
 * The SES documentation the project was created from (../shared/seeds/): every JSON example
 * in it must decode, and test/fixtures/event-publishing/ must hold exactly those examples.
 */
import { decodeSqsBody } from '../../../domain/decode';
import { fixtureJson, fixtureNames } from '../../support/fixtures';
import { SEEDS_DIR, seedSamples } from '../../support/seeds';

const samples = seedSamples();
// CI checks shared/ out beside the repository; a bare clone elsewhere has no seeds to read.
const describeSeeds = samples.length > 0 || process.env.CI ? describe : describe.skip;

describeSeeds(`seed samples in ${SEEDS_DIR}`, () => {
  it('holds one example of each of the ten event publishing types', () => {
    const types = samples.map((s) => (s.json as { eventType?: string }).eventType).sort();
    expect(types).toEqual([
      'Bounce',
      'Click',
      'Complaint',
      'Delivery',
      'DeliveryDelay',
      'Open',
      'Reject',
      'Rendering Failure',
      'Send',
      'Subscription',
    ]);
  });

  it.each(samples.map((s) => [`${s.seed} #${s.index}`, s] as const))(
    '%s decodes',
    (_name, sample) => {
      const result = decodeSqsBody(JSON.stringify(sample.json));
      expect(result).toMatchObject({ _tag: 'Right' });
    },
  );

  it('is what test/fixtures/event-publishing/ holds, sample for sample', () => {
    const fixtures = fixtureNames('event-publishing').map((name) => fixtureJson(name));
    const byType = (list: unknown[]) =>
      [...list].sort((a, b) =>
        String((a as { eventType: string }).eventType).localeCompare(
          (b as { eventType: string }).eventType,
        ),
      );
    expect(byType(fixtures)).toEqual(byType(samples.map((s) => s.json)));
  });
});
