import { activeRuns } from '../core/active-runs.js';
import type { EventEnvelope } from '../core/envelope.js';
import type { EventStore, LiveSubscription, StreamRef } from '../core/event-store.port.js';
import type { JsonLogger } from '../core/support/json-logger.js';
import type { Viewer } from './viewer.js';

/** The run started events a project's followers hear about. */
const RUN_STARTED = 'agent.run.started';

/** What `RunFollowers` needs of the subscriptions: one run's log feed, in and out. */
export interface RunLogSubscriptions {
  followRun(viewer: Viewer, stream: Required<StreamRef>): Promise<void>;
  unfollowRun(viewer: Viewer, stream: Required<StreamRef>): void;
  /** Run log subscriptions the viewer may still take (the per-connection limit). */
  roomFor(viewer: Viewer): number;
}

interface Follower {
  readonly viewer: Viewer;
  /** Runs followed for this viewer, oldest first (a Set keeps insertion order). */
  readonly runs: Set<string>;
  /** Told once per follow when a run could not be followed for the limit. */
  warned: boolean;
}

interface ProjectFollowers {
  readonly byViewer: Map<string, Follower>;
  /** The project's `agent.run.started` live subscription, shared by its followers on this replica. */
  readonly live: Promise<LiveSubscription>;
}

/**
 * Viewers following every run of a project (SSE `runs=all`, socket
 * `logs:subscribe` with `runId: "*"`): each is subscribed to the log stream
 * of every run in progress when it starts following, and of every run that
 * starts afterwards, through the same per-run feeds as a single run's log
 * (same replay, pacing, slow-viewer rules). A new run's subscription replays
 * its retained lines first, so lines published before it was taken are not
 * missed. The per-connection subscription limit bounds it: at the limit, the
 * oldest followed run that has ended makes room; when every followed run is
 * still in progress, a new run is not followed (logged, once per follow).
 */
export class RunFollowers {
  private readonly projects = new Map<string, ProjectFollowers>();

  constructor(
    private readonly store: EventStore,
    private readonly logs: RunLogSubscriptions,
    private readonly logger: JsonLogger,
  ) {}

  /** Starts following; resolves with the runs followed at once (those in progress). */
  async follow(viewer: Viewer, projectId: string): Promise<string[]> {
    const project = this.projectOf(projectId);
    let follower = project.byViewer.get(viewer.id);
    if (!follower) {
      follower = { viewer, runs: new Set(), warned: false };
      project.byViewer.set(viewer.id, follower);
    }
    try {
      // Live first, then the snapshot: a run starting in between is seen twice, never missed.
      await project.live;
      const { snapshot } = await this.store.snapshot(projectId);
      for (const run of activeRuns(snapshot)) await this.add(follower, projectId, run.runId);
    } catch (err) {
      this.unfollow(viewer, projectId);
      throw err;
    }
    return [...follower.runs];
  }

  /** Stops following the project's runs, and drops the run subscriptions following made. */
  unfollow(viewer: Viewer, projectId: string): void {
    const project = this.projects.get(projectId);
    const follower = project?.byViewer.get(viewer.id);
    if (!project || !follower) return;
    project.byViewer.delete(viewer.id);
    for (const runId of follower.runs) this.logs.unfollowRun(viewer, { projectId, runId });
    if (project.byViewer.size > 0) return;
    this.projects.delete(projectId);
    project.live.then((sub) => this.store.unsubscribe(sub)).catch(() => undefined);
  }

  /** Every project the viewer follows (a closed connection, a revoked project). */
  followedBy(viewer: Viewer): string[] {
    return [...this.projects].filter(([, p]) => p.byViewer.has(viewer.id)).map(([id]) => id);
  }

  /** Followers of every project on this replica (metrics, leak checks). */
  get size(): number {
    let n = 0;
    for (const project of this.projects.values()) n += project.byViewer.size;
    return n;
  }

  private projectOf(projectId: string): ProjectFollowers {
    let project = this.projects.get(projectId);
    if (project) return project;
    const live = this.store.subscribe(projectId, RUN_STARTED, (batch) =>
      this.started(projectId, batch.events),
    );
    project = { byViewer: new Map(), live };
    this.projects.set(projectId, project);
    // A live subscription that failed must not be reused.
    const created = project;
    live.catch(() => {
      if (this.projects.get(projectId) === created) this.projects.delete(projectId);
    });
    return project;
  }

  private started(projectId: string, events: readonly EventEnvelope[]): void {
    const project = this.projects.get(projectId);
    if (!project) return;
    for (const event of events) {
      const { runId } = event.data as { runId: string };
      for (const follower of project.byViewer.values()) {
        this.add(follower, projectId, runId).catch((error: unknown) =>
          this.logger.event('warn', 'following a new run failed', {
            connection: follower.viewer.id,
            runId,
            error,
          }),
        );
      }
    }
  }

  private async add(follower: Follower, projectId: string, runId: string): Promise<void> {
    if (follower.runs.has(runId) || !follower.viewer.isOpen()) return;
    // Taken at once, so the same run arriving twice (snapshot and live) is followed once.
    follower.runs.add(runId);
    if (this.logs.roomFor(follower.viewer) <= 0 && !(await this.evictEnded(follower, projectId))) {
      follower.runs.delete(runId);
      if (!follower.warned) {
        follower.warned = true;
        this.logger.event('warn', 'run not followed: every followed run is still in progress', {
          connection: follower.viewer.id,
          projectId,
          runId,
        });
      }
      return;
    }
    await this.logs.followRun(follower.viewer, { projectId, runId });
  }

  /** Unfollows the oldest followed run that has ended; false when none has. */
  private async evictEnded(follower: Follower, projectId: string): Promise<boolean> {
    const runs = [...follower.runs];
    const latest = await this.store.readEntities(
      projectId,
      runs.map((runId) => `run:${runId}`),
    );
    const ended = runs.find((_, i) => latest[i]?.type !== RUN_STARTED);
    if (ended === undefined) return false;
    follower.runs.delete(ended);
    this.logs.unfollowRun(follower.viewer, { projectId, runId: ended });
    return true;
  }
}
