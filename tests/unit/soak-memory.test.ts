import { describe, expect, it } from "vitest";
import { judgeMemory, MIN_SAMPLES, type RssSample, slope } from "../../bench/soak-memory";

const MB = 1024;
/** One sample each 10 s over `minutes`, RSS from `mbAt(t in minutes)`. */
function series(minutes: number, mbAt: (min: number) => number): RssSample[] {
  const out: RssSample[] = [];
  for (let at = 10_000; at <= minutes * 60_000; at += 10_000)
    out.push({ atMs: at, rssKb: mbAt(at / 60_000) * MB });
  return out;
}
// A fixed pseudo-random sequence: noise without a flaky test.
function noise(seed: number): (amplitude: number) => number {
  let x = seed;
  return (amplitude) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return ((x / 2 ** 31) * 2 - 1) * amplitude;
  };
}

describe("least-squares slope", () => {
  it("is the line's slope for points on a line, and 0 for a flat or single point", () => {
    expect(slope([0, 1, 2, 3].map((x) => ({ x, y: 3 * x + 7 })))).toBeCloseTo(3);
    expect(slope([0, 1, 2].map((x) => ({ x, y: 5 })))).toBe(0);
    expect(slope([{ x: 1, y: 9 }])).toBe(0);
    expect(
      slope([
        { x: 1, y: 1 },
        { x: 1, y: 9 },
      ]),
    ).toBe(0);
  });
});

describe("memory verdict of a soak", () => {
  const TEN_MIN = 10 * 60_000;

  it("calls a process flat when it grew during warm-up and then stayed level, with noise", () => {
    const n = noise(1);
    const samples = series(10, (m) => (m < 3 ? 100 + 40 * m : 220) + n(4));
    const v = judgeMemory(samples, TEN_MIN);
    expect(v.verdict).toBe("flat");
    expect(v.samples).toBe(31); // 5:00 to 10:00, every 10 s
    expect(Math.abs(v.growthMb as number)).toBeLessThan(10);
  });

  it("calls a garbage collector's sawtooth flat", () => {
    const samples = series(10, (m) => 300 + ((m * 6) % 1) * 60);
    expect(judgeMemory(samples, TEN_MIN).verdict).toBe("flat");
  });

  it("calls a steady leak growing, even under noise larger than a minute's growth", () => {
    const n = noise(2);
    // 4 MiB a minute: 20 MiB over the judged five minutes, noise of ±8 MiB per sample.
    const samples = series(10, (m) => 150 + 4 * m + n(8));
    const v = judgeMemory(samples, TEN_MIN);
    expect(v.verdict).toBe("growing");
    expect(v.slopeMbPerMin as number).toBeGreaterThan(3);
    expect(v.slopeMbPerMin as number).toBeLessThan(5);
  });

  it("scales the tolerance with the process: 5 % of a large one's RSS is allowed", () => {
    // 1 GiB process growing 8 MiB a minute: 40 MiB in the window, under 5 % (~51 MiB)…
    expect(
      judgeMemory(
        series(10, (m) => 1024 + 8 * (m - 7.5)),
        TEN_MIN,
      ).verdict,
    ).toBe("flat");
    // …and 12 MiB a minute (60 MiB) is over it.
    const v = judgeMemory(
      series(10, (m) => 1024 + 12 * (m - 7.5)),
      TEN_MIN,
    );
    expect(v.verdict).toBe("growing");
    expect(v.toleranceMb).toBeCloseTo(51.2, 0);
  });

  it("ignores growth in the first half: only the second half is judged", () => {
    const samples = series(10, (m) => (m < 5 ? 50 + 30 * m : 200));
    expect(judgeMemory(samples, TEN_MIN).verdict).toBe("flat");
  });

  it("does not judge a run too short to have a second half worth fitting", () => {
    const samples = series(1, (m) => 100 + 100 * m);
    const v = judgeMemory(samples, 60_000);
    expect(v.samples).toBeLessThan(MIN_SAMPLES);
    expect(v.verdict).toBe("too short");
    expect(v.slopeMbPerMin).toBeNull();
  });
});
