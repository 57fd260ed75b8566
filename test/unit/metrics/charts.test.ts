/** The status page's SVG charts: marks where the data is, gaps where it is not, text escaped. */
import {
  barChart,
  escapeHtml,
  formatPercent,
  formatPercentShort,
  lineChart,
  niceCeiling,
} from '../../../adapters/http/charts';

const pointsOf = (svg: string) =>
  [...svg.matchAll(/<polyline[^>]*points="([^"]*)"[^>]*data-series="([^"]*)"/g)].map((m) => ({
    series: m[2],
    points: m[1]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]),
  }));

describe('lineChart', () => {
  it('draws one polyline per series, higher values higher up', () => {
    const svg = lineChart({
      title: 't',
      series: [{ name: 'send', color: '#000', values: [0, 5, 10] }],
      xTicks: [],
      formatY: String,
    });
    const [line] = pointsOf(svg);
    expect(line?.series).toBe('send');
    expect(line?.points).toHaveLength(3);
    const ys = line!.points.map(([, y]) => y);
    expect(ys[0]).toBeGreaterThan(ys[1]!);
    expect(ys[1]).toBeGreaterThan(ys[2]!);
    const xs = line!.points.map(([x]) => x);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
  });

  it('breaks the line at missing values, and shows a lone point as a dot', () => {
    const svg = lineChart({
      title: 't',
      series: [
        { name: 'rate', color: '#000', values: [0.1, 0.2, null, 0.3, null, null, 0.1, 0.2] },
      ],
      xTicks: [],
      formatY: String,
    });
    expect(pointsOf(svg).map((l) => l.points.length)).toEqual([2, 2]);
    expect(svg.match(/<circle[^>]*data-series="rate"/g)).toHaveLength(1);
  });

  it('draws thresholds as dashed lines, inside the scale', () => {
    const svg = lineChart({
      title: 't',
      series: [{ name: 'rate', color: '#000', values: [0.01, 0.02] }],
      xTicks: [{ index: 0, text: '01-01' }],
      formatY: formatPercentShort,
      thresholds: [
        { label: 'warn 5 %', value: 0.05, color: '#a00' },
        { label: 'critical 10 %', value: 0.1, color: '#f00' },
      ],
    });
    expect(svg).toContain('data-threshold="warn 5 %"');
    expect(svg).toContain('data-threshold="critical 10 %"');
    expect(svg).toContain('01-01');
    // The top gridline is the scale's ceiling: the highest threshold fits under it.
    expect(svg).toContain('>10 %<');
  });

  it('shows a series by its label in the legend, and by its name on its marks', () => {
    const svg = lineChart({
      title: 't',
      series: [
        { name: 'renderingFailure', label: 'Rendering failure', color: '#000', values: [1, 2] },
        { name: 'send', color: '#111', values: [3, 4] },
      ],
      xTicks: [],
      formatY: String,
    });
    const legend = /<span class="legend">(.*?)<\/span><\/figcaption>/.exec(svg)?.[1] ?? '';
    expect([...legend.matchAll(/<\/svg>([^<]*)<\/span>/g)].map((m) => m[1])).toEqual([
      'Rendering failure',
      'send',
    ]);
    expect(pointsOf(svg).map((l) => l.series)).toEqual(['renderingFailure', 'send']);
  });

  it('escapes every text it is given', () => {
    const svg = lineChart({
      title: '<b>"t"</b>',
      series: [
        { name: '<x&y>', color: '#000', values: [1, 2] },
        { name: 'z', label: '<z>', color: '#000', values: [1, 2] },
      ],
      xTicks: [],
      formatY: String,
    });
    expect(svg).not.toContain('<b>');
    expect(svg).not.toContain('<x&y>');
    expect(svg).toContain('&#60;x&#38;y&#62;');
    expect(svg).not.toContain('<z>');
    expect(svg).toContain('&#60;z&#62;');
  });
});

describe('barChart', () => {
  it('bars proportional to their values; n/a without a bar', () => {
    const svg = barChart({
      title: 'b',
      bars: [
        { label: 'a', value: 10, color: '#000' },
        { label: 'b', value: 5, color: '#000' },
        { label: 'c', value: 0, color: '#000' },
        { label: 'd', value: null, color: '#000' },
      ],
    });
    const width = (label: string) =>
      Number(new RegExp(`width="(\\d+)"[^>]*data-bar="${label}"`).exec(svg)?.[1]);
    expect(width('a')).toBe(2 * width('b'));
    expect(width('c')).toBe(0);
    expect(width('d')).toBe(0);
    expect(svg).toContain('n/a');
  });
});

describe('formatting', () => {
  it('niceCeiling rounds up to 1, 2, 2.5 or 5 × 10^n', () => {
    expect([0, 0.0004, 0.05, 0.07, 3, 11, 240].map(niceCeiling)).toEqual([
      1, 0.0005, 0.05, 0.1, 5, 20, 250,
    ]);
  });
  it('formatPercentShort', () => {
    expect([0, 0.001, 0.005, 0.075, 0.08, 0.1, 0.00125].map(formatPercentShort)).toEqual([
      '0 %',
      '0.1 %',
      '0.5 %',
      '7.5 %',
      '8 %',
      '10 %',
      '0.125 %',
    ]);
  });
  it('formatPercent', () => {
    expect([null, 0, 0.0004, 0.05, 0.1234].map(formatPercent)).toEqual([
      '–',
      '0 %',
      '0.040 %',
      '5.00 %',
      '12.3 %',
    ]);
  });
  it('escapeHtml', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;',
    );
  });
});
