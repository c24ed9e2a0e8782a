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

/** CPU per host over the last samples (uPlot: canvas, cheap to update every frame). */
export class ChartView {
  private plot: uPlot | null = null;
  private hosts: string[] = [];

  constructor(private readonly root: HTMLElement) {}

  render(state: DashboardState): void {
    const hosts = [...state.samples.keys()].sort().slice(0, COLORS.length);
    if (hosts.join() !== this.hosts.join()) this.build(hosts);
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
    this.hosts = hosts;
    if (hosts.length === 0) return;
    this.plot = new uPlot(
      {
        width: Math.max(240, this.root.clientWidth),
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
