/** A readiness report as a service computes it: each check's outcome, with the driver's text. */
export interface ReadinessLike {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, unknown>>;
}

/** One check as `/readyz` shows it. */
export interface ShownCheck {
  readonly ok: boolean;
  /** Which dependency is not ready, in words of ours (never a driver's text). */
  readonly error?: string;
  /** The server answers a fresh client but not this process's: a fresh process is due. */
  readonly stuck?: true;
}

const SERVICE_STATE = /^the service is [a-z]+$/;

/**
 * What `GET /readyz` shows of a readiness report, to anyone who asks: whether each check passed
 * and, for one that did not, the dependency it names. A driver's text (addresses, ports, internal
 * messages) stays in the process (its readiness API and its logs).
 */
export function shownReadiness(report: ReadinessLike): {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, ShownCheck>>;
} {
  const checks: Record<string, ShownCheck> = {};
  for (const [name, check] of Object.entries(report.checks)) {
    const { ok, error, stuck } = (typeof check === 'object' && check !== null ? check : {}) as {
      ok?: unknown;
      error?: unknown;
      stuck?: unknown;
    };
    if (ok !== false) {
      checks[name] = { ok: true };
      continue;
    }
    checks[name] = {
      ok: false,
      error:
        typeof error === 'string' && SERVICE_STATE.test(error) ? error : `${name} is not ready`,
      ...(stuck === true ? { stuck: true as const } : {}),
    };
  }
  return { ready: report.ready, checks };
}
