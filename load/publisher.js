// k6 run load/publisher.js -e TARGETS=http://localhost:8080 -e PUBLISH_TOKEN=<service jwt> -e RATE=100
// HTTP publishes at a constant arrival rate (RATE per second) for DURATION,
// each to the project of its VU, with a taskId `pub<vu>-<iteration>` that
// load/dashboards.js uses to find gaps.
import http from 'k6/http';
import { check } from 'k6';
import { projectFor, settings } from './lib/config.js';

const cfg = settings(__ENV);

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
  scenarios: {
    publish: {
      executor: 'constant-arrival-rate',
      rate: cfg.rate,
      timeUnit: '1s',
      duration: cfg.duration,
      preAllocatedVUs: Math.max(10, cfg.projects),
      maxVUs: Math.max(50, cfg.projects * 2),
    },
  },
  thresholds: {
    // Publishing is cheap and never refused under the configured limits.
    http_req_failed: ['rate<0.001'],
    http_req_duration: ['p(99)<100'],
  },
};

export default function () {
  const target = cfg.targets[(__VU - 1) % cfg.targets.length];
  const projectId = projectFor(__VU, cfg.projects);
  const res = http.post(
    `${target}/api/projects/${projectId}/events`,
    JSON.stringify({
      type: 'task.status.changed',
      data: { taskId: `pub${__VU}-${__ITER}`, from: null, to: 'active' },
    }),
    {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cfg.publishToken}` },
    },
  );
  check(res, { accepted: (r) => r.status === 202 });
}
