/** Numerical pieces of the research: ridge, a joint-MAP IRT fit, quadrature, brute-force top-k. */

/** Solve A X = B (A n x n SPD, B n x k), Cholesky. */
export function cholSolve(A: Float64Array, n: number, B: Float64Array, k: number): Float64Array {
  const L = Float64Array.from(A);
  for (let j = 0; j < n; j++) {
    let s = L[j * n + j];
    for (let p = 0; p < j; p++) s -= L[j * n + p] * L[j * n + p];
    const d = Math.sqrt(s > 0 ? s : 1e-12);
    L[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let t = L[i * n + j];
      for (let p = 0; p < j; p++) t -= L[i * n + p] * L[j * n + p];
      L[i * n + j] = t / d;
    }
  }
  const X = Float64Array.from(B);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      let t = X[i * k + c];
      for (let p = 0; p < i; p++) t -= L[i * n + p] * X[p * k + c];
      X[i * k + c] = t / L[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let t = X[i * k + c];
      for (let p = i + 1; p < n; p++) t -= L[p * n + i] * X[p * k + c];
      X[i * k + c] = t / L[i * n + i];
    }
  }
  return X;
}

export interface Ridge {
  predict(Z: Float64Array, nz: number): Float64Array;
}

/** Ridge with an unpenalised intercept. X n x d, Y n x k. Dual (kernel) form when n < d. */
export function ridgeFit(X: Float64Array, n: number, d: number, Y: Float64Array, k: number, alpha: number): Ridge {
  const mx = new Float64Array(d);
  const my = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) mx[j] += X[i * d + j] / n;
    for (let c = 0; c < k; c++) my[c] += Y[i * k + c] / n;
  }
  const Xc = new Float64Array(n * d);
  const Yc = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) Xc[i * d + j] = X[i * d + j] - mx[j];
    for (let c = 0; c < k; c++) Yc[i * k + c] = Y[i * k + c] - my[c];
  }
  let W: Float64Array;
  if (n < d) {
    const K = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let p = 0; p < d; p++) s += Xc[i * d + p] * Xc[j * d + p];
        K[i * n + j] = K[j * n + i] = s;
      }
    }
    for (let i = 0; i < n; i++) K[i * n + i] += alpha;
    const A = cholSolve(K, n, Yc, k);
    W = new Float64Array(d * k);
    for (let i = 0; i < n; i++) for (let p = 0; p < d; p++) for (let c = 0; c < k; c++) W[p * k + c] += Xc[i * d + p] * A[i * k + c];
  } else {
    const G = new Float64Array(d * d);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < d; p++) {
        const x = Xc[i * d + p];
        if (x === 0) continue;
        for (let q = 0; q <= p; q++) G[p * d + q] += x * Xc[i * d + q];
      }
    }
    for (let p = 0; p < d; p++) for (let q = 0; q < p; q++) G[q * d + p] = G[p * d + q];
    for (let p = 0; p < d; p++) G[p * d + p] += alpha;
    const XtY = new Float64Array(d * k);
    for (let i = 0; i < n; i++) for (let p = 0; p < d; p++) for (let c = 0; c < k; c++) XtY[p * k + c] += Xc[i * d + p] * Yc[i * k + c];
    W = cholSolve(G, d, XtY, k);
  }
  const b = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let s = my[c];
    for (let p = 0; p < d; p++) s -= mx[p] * W[p * k + c];
    b[c] = s;
  }
  return {
    predict(Z: Float64Array, nz: number): Float64Array {
      const out = new Float64Array(nz * k);
      for (let i = 0; i < nz; i++) {
        for (let c = 0; c < k; c++) {
          let s = b[c];
          for (let p = 0; p < d; p++) s += Z[i * d + p] * W[p * k + c];
          out[i * k + c] = s;
        }
      }
      return out;
    },
  };
}

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/**
 * Joint MAP fit (the first research version; the router uses marginal ML instead): logit p_im =
 * a_m . theta_i + b_m with theta_i ~ N(0, I) and a weak L2 on a. Soft labels in [0, 1].
 */
export function fitIrtJoint(S: Float64Array, n: number, m: number, K: number, iters = 60, regA = 0.01): { theta: Float64Array; a: Float64Array; b: Float64Array } {
  let r = 1;
  const rnd = () => (r = (r * 16807) % 2147483647) / 2147483647;
  const theta = new Float64Array(n * K);
  const a = new Float64Array(m * K);
  const b = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += S[i * m + j];
    for (let k = 0; k < K; k++) theta[i * K + k] = k === 0 ? (s / m - 0.5) * 3 : (rnd() - 0.5) * 0.2;
  }
  for (let j = 0; j < m; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += S[i * m + j];
    const p = Math.min(0.98, Math.max(0.02, s / n));
    b[j] = Math.log(p / (1 - p));
    for (let k = 0; k < K; k++) a[j * K + k] = k === 0 ? 1 : (rnd() - 0.5) * 0.2;
  }
  const clip = (x: number) => Math.max(-2, Math.min(2, x));
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < n; i++) {
      const g = new Float64Array(K);
      const H = new Float64Array(K * K);
      for (let k = 0; k < K; k++) {
        g[k] = -theta[i * K + k];
        H[k * K + k] = 1;
      }
      for (let j = 0; j < m; j++) {
        let z = b[j];
        for (let k = 0; k < K; k++) z += a[j * K + k] * theta[i * K + k];
        const p = sigmoid(z);
        const w = p * (1 - p);
        const y = S[i * m + j];
        for (let k = 0; k < K; k++) {
          g[k] += (y - p) * a[j * K + k];
          for (let l = 0; l < K; l++) H[k * K + l] += w * a[j * K + k] * a[j * K + l];
        }
      }
      const step = cholSolve(H, K, g, 1);
      for (let k = 0; k < K; k++) theta[i * K + k] += clip(step[k]);
    }
    for (let j = 0; j < m; j++) {
      const P = K + 1;
      const g = new Float64Array(P);
      const H = new Float64Array(P * P);
      for (let k = 0; k < K; k++) {
        g[k] = -regA * a[j * K + k] * n;
        H[k * P + k] = regA * n;
      }
      H[K * P + K] = 1e-6;
      const f = new Float64Array(P);
      for (let i = 0; i < n; i++) {
        let z = b[j];
        for (let k = 0; k < K; k++) z += a[j * K + k] * theta[i * K + k];
        const p = sigmoid(z);
        const w = p * (1 - p);
        const y = S[i * m + j];
        for (let k = 0; k < K; k++) f[k] = theta[i * K + k];
        f[K] = 1;
        for (let u = 0; u < P; u++) {
          g[u] += (y - p) * f[u];
          for (let v = 0; v < P; v++) H[u * P + v] += w * f[u] * f[v];
        }
      }
      const step = cholSolve(H, P, g, 1);
      for (let k = 0; k < K; k++) a[j * K + k] += clip(step[k]);
      b[j] += clip(step[K]);
    }
  }
  return { theta, a, b };
}

/** E[sigmoid(a . theta + b)], theta ~ N(mu, diag(s2)): a 1-D integral over the projected normal. */
export function expectedProb(a: Float64Array, aOff: number, b: number, mu: ArrayLike<number>, muOff: number, s2: ArrayLike<number>, K: number): number {
  let mean = b;
  let v = 0;
  for (let k = 0; k < K; k++) {
    mean += a[aOff + k] * mu[muOff + k];
    v += a[aOff + k] ** 2 * s2[k];
  }
  const sd = Math.sqrt(v);
  let e = 0;
  let wsum = 0;
  for (let t = -6; t <= 6 + 1e-9; t += 0.25) {
    const w = Math.exp(-0.5 * t * t);
    e += w * sigmoid(mean + sd * t);
    wsum += w;
  }
  return e / wsum;
}

/** Cosine top-k of each query among rows of X (both L2-normalised). */
export function topK(Q: Float32Array, nq: number, X: Float32Array, nx: number, d: number, k: number): { idx: Int32Array; sim: Float64Array } {
  const idx = new Int32Array(nq * k);
  const sim = new Float64Array(nq * k);
  const s = new Float64Array(nx);
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < nx; j++) {
      let t = 0;
      for (let p = 0; p < d; p++) t += Q[i * d + p] * X[j * d + p];
      s[j] = t;
    }
    const order = Array.from(s.keys())
      .sort((u, v) => s[v] - s[u])
      .slice(0, k);
    order.forEach((j, r) => {
      idx[i * k + r] = j;
      sim[i * k + r] = s[j];
    });
  }
  return { idx, sim };
}
