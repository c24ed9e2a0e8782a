import { DeadlineWheel } from '../../core/support/deadline-wheel.js';
import type { JsonLogger } from '../../core/support/json-logger.js';
import type { GatewayMetrics } from '../../core/support/metrics.js';
import type { Principal } from '../auth/principal.js';
import { planDrain } from '../drain-plan.js';
import type { Lifecycle } from './lifecycle.js';
import type { Revocation } from './revocation-store.port.js';
import type { RevocationService } from './revocation.service.js';

/**
 * One live connection of a user, whatever carries it (a Socket.IO socket, an
 * SSE stream), as the rules every session follows see it: each transport
 * says how to warn, end or narrow its own kind of connection; when to do it
 * is decided once, in `Sessions`.
 */
export interface Session {
  readonly id: string;
  /** Its current principal (a socket's is replaced by `auth:refresh`). */
  readonly principal: Principal;
  /** Its token expires soon (sockets: `auth:expiring`); absent where the transport cannot refresh. */
  warnExpiry?(): void;
  /** Its token expired: the session ends. */
  expire(): void;
  /**
   * Its user was revoked (`projectId` null: the session ends and must not
   * reconnect with this token), or its access to one project was.
   */
  revoked(projectId: string | null): void;
  /** The replica is draining: the client will be closed in `reconnectInMs` and should go elsewhere. */
  notifyDraining(reconnectInMs: number): void;
  /** Closes the transport so that the client reconnects by itself, elsewhere, and resumes. */
  close(): void;
}

export interface SessionOptions {
  /** How long before `exp` a session is warned, ms. */
  warnBeforeMs: number;
  /** Over how long a drain spreads its closes, ms. */
  drainWindowMs: number;
}

interface Slots {
  warn?: number;
  expiry?: number;
}

/**
 * The rules every live session on this replica follows, for every transport
 * at once: expiry (warned ahead, ended at `exp`, on two deadline wheels: one
 * timer each for all sessions), refresh, revocation announced by any replica
 * and its re-check after missed announcements, and the drain on SIGTERM.
 */
export class Sessions {
  private readonly warnings = new DeadlineWheel<Session>((session) => this.warn(session));
  private readonly expiries = new DeadlineWheel<Session>((session) => this.expire(session));
  private readonly slots = new Map<Session, Slots>();
  /** Sessions by user, for revocations. */
  private readonly byUser = new Map<string, Set<Session>>();

  constructor(
    private readonly revocations: RevocationService,
    private readonly lifecycle: Lifecycle,
    private readonly options: SessionOptions,
    private readonly metrics: GatewayMetrics,
    private readonly logger: JsonLogger,
  ) {
    revocations.onRevoked((revocation) => this.applyRevocation(revocation));
    revocations.onMissedAnnouncements(() => void this.recheckAll());
    metrics.countInternal(() => ({
      socket_timers: this.warnings.size + this.expiries.size,
      socket_timer_entries: this.expiries.size,
      user_index: this.byUser.size,
    }));
  }

  /** Sessions open on this replica. */
  get size(): number {
    return this.slots.size;
  }

  /** A session opened: it follows the rules until `close`. */
  open(session: Session): void {
    const user = session.principal.sub;
    let sessions = this.byUser.get(user);
    if (!sessions) {
      sessions = new Set();
      this.byUser.set(user, sessions);
    }
    sessions.add(session);
    this.slots.set(session, {});
    this.schedule(session);
  }

  /** The session's principal was replaced (a refresh): its expiry applies from now. */
  renewed(session: Session): void {
    if (!this.slots.has(session)) return;
    this.cancel(session);
    this.schedule(session);
  }

  close(session: Session): void {
    if (!this.slots.has(session)) return;
    this.cancel(session);
    this.slots.delete(session);
    const user = session.principal.sub;
    const sessions = this.byUser.get(user);
    sessions?.delete(session);
    if (sessions?.size === 0) this.byUser.delete(user);
  }

  /**
   * A graceful stop: readiness false and new connections refused at once,
   * then every session is told when it will be closed and closed in batches
   * spread over the drain window. Resolves once every one is closed.
   */
  async drain(): Promise<void> {
    this.lifecycle.draining = true;
    this.metrics.draining.set(1);
    const targets = [...this.slots.keys()];
    const windowMs = this.options.drainWindowMs;
    const delays = planDrain(targets.length, windowMs);
    this.logger.event('info', 'draining', { connections: targets.length, windowMs });
    const batches = new Map<number, Session[]>();
    targets.forEach((target, i) => {
      target.notifyDraining(delays[i]);
      const batch = batches.get(delays[i]) ?? [];
      batch.push(target);
      batches.set(delays[i], batch);
    });
    await Promise.all(
      [...batches].map(
        ([delay, batch]) =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              for (const target of batch) target.close();
              resolve();
            }, delay),
          ),
      ),
    );
    // Sessions that opened after the list was taken.
    for (const target of [...this.slots.keys()]) target.close();
    this.logger.event('info', 'drained', { connections: targets.length });
  }

  private schedule(session: Session): void {
    const { expiresAt } = session.principal;
    const slots = this.slots.get(session)!;
    if (session.warnExpiry) {
      slots.warn = this.warnings.add(session, expiresAt - this.options.warnBeforeMs);
    }
    slots.expiry = this.expiries.add(session, expiresAt);
  }

  private cancel(session: Session): void {
    const slots = this.slots.get(session);
    if (!slots) return;
    if (slots.warn !== undefined) this.warnings.cancel(session, slots.warn);
    if (slots.expiry !== undefined) this.expiries.cancel(session, slots.expiry);
    slots.warn = slots.expiry = undefined;
  }

  private warn(session: Session): void {
    const slots = this.slots.get(session);
    if (slots) slots.warn = undefined;
    session.warnExpiry?.();
  }

  private expire(session: Session): void {
    const slots = this.slots.get(session);
    if (slots) slots.expiry = undefined;
    session.expire();
  }

  /** A revocation announced by any replica: applied to this replica's sessions of that user. */
  private applyRevocation(revocation: Revocation): void {
    for (const session of [...(this.byUser.get(revocation.userId) ?? [])]) {
      if (!this.revocations.appliesTo(revocation, session.principal)) continue;
      this.revoke(session, revocation.projectId);
    }
  }

  /** Announcements may have been missed: every live session is judged against the store again. */
  private async recheckAll(): Promise<void> {
    for (const [, sessions] of this.byUser) {
      for (const session of [...sessions]) {
        const found = await this.revocations.recheck(session.principal);
        if (found.kind === 'user') this.revoke(session, null);
        else if (found.kind === 'projects') {
          for (const projectId of found.projects) this.revoke(session, projectId);
        }
      }
    }
  }

  private revoke(session: Session, projectId: string | null): void {
    this.logger.event('info', projectId === null ? 'user revoked' : 'project access revoked', {
      session: session.id,
      user: session.principal.sub,
      ...(projectId === null ? {} : { projectId }),
    });
    session.revoked(projectId);
  }
}
