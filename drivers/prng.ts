// Seeded pseudo-random numbers for the simulated driver: same seed, same sequence, on every
// platform (Math.random cannot be seeded). mulberry32: 32-bit state, period 2^32, fast and
// good enough for waveform noise; not for cryptography.

/** Returns a generator of floats in [0, 1) determined entirely by `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
