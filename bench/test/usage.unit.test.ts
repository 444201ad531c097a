import { describe, expect, it } from 'vitest';
import { perSaga, trackerLagMs, usageOf } from '../src/usage.js';

const exposition = (db: number, produce: number, endTxn: number, cpu: number) => `
# HELP sagaflow_round_trips_total Requests sent to the database (commands) and to Kafka (requests), by operation.
# TYPE sagaflow_round_trips_total counter
sagaflow_round_trips_total{system="database",operation="insert",service="inventory"} ${db}
sagaflow_round_trips_total{system="database",operation="find",service="inventory"} 1
sagaflow_round_trips_total{system="kafka",operation="Produce",service="inventory"} ${produce}
sagaflow_round_trips_total{system="kafka",operation="EndTxn",service="inventory"} ${endTxn}
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total{service="inventory"} ${cpu}
`;

describe('usage read from /metrics', () => {
  it('adds up database commands, Kafka requests, transactions and CPU', () => {
    expect(usageOf(exposition(10, 4, 2, 1.5))).toEqual({
      db: 11,
      kafka: 6,
      transactions: 2,
      cpuSec: 1.5,
      byOperation: {
        'database insert': 10,
        'database find': 1,
        'kafka Produce': 4,
        'kafka EndTxn': 2,
      },
      trackerLag: {},
    });
  });

  it('reads a prefixed CPU counter (the admin app prefixes its own)', () => {
    expect(usageOf('sagaflow_admin_process_cpu_seconds_total 2.25\n').cpuSec).toBe(2.25);
  });

  it('divides the difference by the sagas ended, leaving out a restarted process', () => {
    const before = { a: usageOf(exposition(10, 4, 2, 1)), b: usageOf(exposition(5, 0, 0, 3)) };
    const after = { a: usageOf(exposition(30, 14, 4, 2)), b: usageOf(exposition(1, 0, 0, 0.5)) };
    expect(perSaga(before, after, 10)).toEqual({
      roundTripsPerSaga: { db: 2, kafka: 1.2, transactions: 0.2 },
      cpuMsPerSaga: { a: 100 },
      roundTripsByProcess: { a: { db: 2, kafka: 1.2, transactions: 0.2 } },
      roundTripsByOperation: { 'database insert': 2, 'kafka Produce': 1, 'kafka EndTxn': 0.2 },
    });
    expect(perSaga(before, after, 0)).toBeUndefined();
  });

  it("reads the tracker's lag quantile from the histogram's buckets between two readings", () => {
    const lag = (under250: number, under1: number, all: number) => `
sagaflow_tracker_lag_seconds_bucket{le="0.25"} ${under250}
sagaflow_tracker_lag_seconds_bucket{le="1"} ${under1}
sagaflow_tracker_lag_seconds_bucket{le="+Inf"} ${all}
process_cpu_seconds_total 1
`;
    const before = { admin: usageOf(lag(10, 10, 10)) };
    // 100 events in between: 90 within 0.25 s, 9 more within 1 s, 1 beyond.
    const after = { admin: usageOf(lag(100, 109, 110)) };
    expect(trackerLagMs(before, after, 0.5)).toBe(250);
    expect(trackerLagMs(before, after, 0.99)).toBe(1000);
    expect(trackerLagMs(before, after, 1)).toBe(1000);
    expect(trackerLagMs(before, before, 0.99)).toBeUndefined();
  });
});
