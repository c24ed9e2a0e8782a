import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { DashboardState } from '../state.js';

const COLORS = [
  '#2e6fd4',
  '#2e9d5b',
  '#d49b1d',
  '#c2413b',
  '#7b4bd1',
  '#1b9aaa',
  '#e0607e',
  '#5b6478',
];

/**
 * CPU per host over the last samples (uPlot: canvas, cheap to update every
 * frame), as wide as its panel. Until there are two samples to draw a line
 * through, it says so instead of drawing empty axes.
 */
export class ChartView {
  private plot: uPlot | null = null;
  private hosts: string[] = [];
  private readonly empty = document.createElement('p');

  constructor(private readonly root: HTMLElement) {
    this.empty.className = 'empty muted';
    this.empty.textContent = 'No resource samples yet: they appear as hosts report them.';
    root.append(this.empty);
    new ResizeObserver(() => {
      this.plot?.setSize({ width: this.width(), height: 180 });
    }).observe(root);
  }

  private width(): number {
    return Math.max(200, this.root.clientWidth);
  }

  render(state: DashboardState): void {
    const samples = state.samples.values().next().value?.t.length ?? 0;
    const hosts = samples >= 2 ? [...state.samples.keys()].sort().slice(0, COLORS.length) : [];
    if (hosts.join() !== this.hosts.join()) this.build(hosts);
    this.empty.hidden = hosts.length > 0;
    if (!this.plot || hosts.length === 0) return;
    // One time axis: the first host's; the others are aligned by index (samples arrive together).
    const base = state.samples.get(hosts[0])!;
    const data: uPlot.AlignedData = [
      base.t,
      ...hosts.map((h) => {
        const cpu = state.samples.get(h)!.cpu;
        return base.t.map((_, i) => cpu[cpu.length - base.t.length + i] ?? null);
      }),
    ];
    this.plot.setData(data);
  }

  private build(hosts: string[]): void {
    this.plot?.destroy();
    this.plot = null;
    this.hosts = hosts;
    if (hosts.length === 0) return;
    this.plot = new uPlot(
      {
        width: this.width(),
        height: 180,
        scales: { y: { range: [0, 100] } },
        series: [{}, ...hosts.map((h, i) => ({ label: h, stroke: COLORS[i], width: 1.5 }))],
        axes: [{}, { size: 36 }],
      },
      [[], ...hosts.map(() => [])],
      this.root,
    );
  }
}
