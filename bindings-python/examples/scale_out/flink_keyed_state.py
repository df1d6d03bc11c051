"""Example (not part of the package): oddsight on Apache Flink (PyFlink), snapshot as ValueState.

`key_by(series)` routes every point of a series to one parallel instance; a
`KeyedProcessFunction` keeps the series' detector snapshot in a `ValueState[str]`: restore,
observe the point, store the new snapshot, emit the verdict. Flink checkpoints keyed state, so
a job restored from a checkpoint or savepoint resumes each detector exactly. Points must reach
the function in time order per key (a detector refuses an earlier timestamp; with an
out-of-order source, buffer on event time and release on the watermark first).

Restoring and writing the snapshot on every point is the simplest correct form; for
high-rate series, keep the detector in a per-key Python dict as a cache and write the state
on a timer or every N points instead (a restart then replays from the last checkpoint, which
Flink's exactly-once checkpoints make consistent with the state).

    pip install apache-flink oddsight && python flink_keyed_state.py
"""

from __future__ import annotations

from pyflink.common import Types
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

import oddsight

DETECTOR = "mad(window=60, warmup=30)"


class ScorePoints(KeyedProcessFunction):
    """(series, timestamp ms, value) in; (series, timestamp, value, anomaly score, is anomaly) out."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.snapshot = runtime_context.get_state(ValueStateDescriptor("oddsight-snapshot", Types.STRING()))

    def process_element(self, point, ctx: KeyedProcessFunction.Context):
        series, timestamp, value = point
        stored = self.snapshot.value()
        detector = oddsight.Detector.restore(stored) if stored else oddsight.Detector(DETECTOR)
        verdict = detector.observe(value, timestamp)
        self.snapshot.update(detector.snapshot())
        yield series, timestamp, value, verdict.anomaly_score, verdict.is_anomaly


def main() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(10_000)
    points = [
        (f"api-{s}", minute * 60_000, 100.0 + s + (40.0 if minute == 200 else (minute * 7 % 5) * 0.5))
        for minute in range(300)
        for s in range(4)
    ]
    source = env.from_collection(points, type_info=Types.TUPLE([Types.STRING(), Types.LONG(), Types.DOUBLE()]))
    scored = source.key_by(lambda p: p[0], key_type=Types.STRING()).process(
        ScorePoints(),
        output_type=Types.TUPLE([Types.STRING(), Types.LONG(), Types.DOUBLE(), Types.DOUBLE(), Types.BOOLEAN()]),
    )
    scored.filter(lambda r: r[4]).print()
    env.execute("oddsight keyed state")


if __name__ == "__main__":
    main()
