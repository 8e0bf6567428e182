/**
 * Market risk: GARCH(1,1) with standardized Student-t innovations, fitted by maximum likelihood,
 * and the Value-at-Risk / Expected Shortfall (CVaR) it implies — the market-risk layer of the
 * risk engine (spec §8.1, §8.2: 1-day 99 % VaR with Student-t tails).
 *
 * Model, for log returns r_t (one per bar):
 *
 *     r_t = μ + ε_t,   ε_t = σ_t z_t,   σ²_t = ω + α ε²_{t−1} + β σ²_{t−1},
 *     z_t ~ Student-t(ν) rescaled to unit variance,
 *     ω > 0, α ≥ 0, β ≥ 0, α + β < 1, ν > 2.
 *
 * Conventions follow Python's `arch` package (`arch_model(..., mean='Constant', vol='GARCH',
 * p=1, q=1, dist='t')`), against which the test suite checks agreement on real candles:
 * - The recursion starts from arch's *backcast*: an exponentially weighted mean of the first
 *   min(75, n) squared residuals from the sample mean (weights 0.94^i, normalized). It stands in
 *   for both ε²₀ and σ²₀, so σ²₁ = ω + (α + β)·backcast. (Not the sample variance: that is what
 *   arch uses for a *constant*-variance model only.) `backcast: 'sample-variance'` is available.
 * - The log-likelihood is the full one, constants included, in the units of the returns given.
 *
 * Everything here is pure and deterministic: no randomness (multi-start from a fixed grid), no
 * clock, no I/O.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { timeframeMs, type Bar, type Timeframe, type Timestamp, type VenueId, type Symbol } from './types';

// ---------------------------------------------------------------------------------------------
// Errors

export type GarchErrorCode =
  /** Fewer returns than `minObservations`. */
  | 'TOO_SHORT'
  /** A return is NaN or ±Infinity. */
  | 'NOT_FINITE'
  /** No variation to model (a constant series). */
  | 'DEGENERATE'
  /** A function argument is out of its domain (confidence, horizon, ν…). */
  | 'INVALID_ARGUMENT'
  /** An `estimateMarketRisk` config value is out of its domain. */
  | 'INVALID_CONFIG';

export class GarchError extends Error {
  readonly stage = 'risk:garch';
  constructor(
    readonly code: GarchErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
    this.name = 'GarchError';
  }
}

// ---------------------------------------------------------------------------------------------
// Special functions and the Student-t distribution

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const LN_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error ≈ 1e-15). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return LN_SQRT_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Digamma ψ(x) = d ln Γ(x)/dx for x > 0 (recurrence up to 6, then the asymptotic series). */
export function digamma(x: number): number {
  let result = 0;
  while (x < 6) {
    result -= 1 / x;
    x += 1;
  }
  const f = 1 / (x * x);
  return result + Math.log(x) - 0.5 / x - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f * (1 / 132)))));
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return h;
}

/**
 * Regularized incomplete beta I_x(a, b). `xc` = 1 − x when the caller knows it more precisely
 * than the subtraction would give (it matters in the Student-t centre).
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number, xc: number = 1 - x): number {
  if (!(a > 0 && b > 0) || Number.isNaN(x)) return NaN;
  if (x <= 0) return 0;
  if (xc <= 0) return 1;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(xc);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(xc, b, a)) / b;
}

function assertNu(nu: number, min = 0): void {
  if (!(nu > min) || !Number.isFinite(nu))
    throw new GarchError('INVALID_ARGUMENT', `degrees of freedom must be a finite number > ${min}, got ${nu}`);
}

/** Density of the (classic, not rescaled) Student-t with ν degrees of freedom. */
export function studentTPdf(x: number, nu: number): number {
  assertNu(nu);
  return Math.exp(
    lnGamma((nu + 1) / 2) - lnGamma(nu / 2) - 0.5 * Math.log(nu * Math.PI) - ((nu + 1) / 2) * Math.log1p((x * x) / nu),
  );
}

/** P(T > x) for x ≥ 0: ½ I_{ν/(ν+x²)}(ν/2, ½), computed without cancellation in either tail. */
function studentTUpperTail(x: number, nu: number): number {
  const x2 = x * x;
  return 0.5 * regularizedIncompleteBeta(nu / (nu + x2), nu / 2, 0.5, x2 / (nu + x2));
}

/** Distribution function P(T ≤ x) of the classic Student-t with ν degrees of freedom. */
export function studentTCdf(x: number, nu: number): number {
  assertNu(nu);
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  return x < 0 ? studentTUpperTail(-x, nu) : 1 - studentTUpperTail(x, nu);
}

/** Initial guess: Abramowitz–Stegun 26.2.23 normal quantile (|error| < 4.5e-4), upper tail `q`. */
function normalUpperQuantileGuess(q: number): number {
  const t = Math.sqrt(-2 * Math.log(q));
  return (
    t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t)
  );
}

/** x ≥ 0 with P(T > x) = q, for 0 < q ≤ ½: safeguarded Newton on ln P(T > x), bracketed. */
function studentTUpperQuantile(q: number, nu: number): number {
  if (q === 0.5) return 0;
  const z = normalUpperQuantileGuess(q);
  // Cornish–Fisher expansion of the t quantile in 1/ν: a good start for ν ≳ 3; the bracket
  // takes care of the rest.
  const z3 = z * z * z;
  let x = z + (z3 + z) / (4 * nu) + (5 * z3 * z * z + 16 * z3 + 3 * z) / (96 * nu * nu);
  if (!(x > 0) || !Number.isFinite(x)) x = 1;
  let lo = 0;
  let hi = x;
  while (studentTUpperTail(hi, nu) > q) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return Infinity;
  }
  x = Math.min(Math.max(x, lo), hi);
  const lnQ = Math.log(q);
  for (let i = 0; i < 200; i++) {
    const tail = studentTUpperTail(x, nu);
    const g = Math.log(tail) - lnQ;
    if (g > 0) lo = x;
    else hi = x;
    if (g === 0) return x;
    const slope = -studentTPdf(x, nu) / tail;
    let next = x - g / slope;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (Math.abs(next - x) <= 1e-15 * Math.max(1, Math.abs(x)) || hi - lo <= 4e-16 * hi) return next;
    x = next;
  }
  return x;
}

/** Quantile (inverse distribution function) of the classic Student-t with ν degrees of freedom. */
export function studentTQuantile(p: number, nu: number): number {
  assertNu(nu);
  if (!(p >= 0 && p <= 1)) throw new GarchError('INVALID_ARGUMENT', `probability must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  return p < 0.5 ? -studentTUpperQuantile(p, nu) : studentTUpperQuantile(1 - p, nu);
}

/** Quantile of the unit-variance Student-t: t_ν⁻¹(p) · √((ν−2)/ν). Needs ν > 2. */
export function standardizedTQuantile(p: number, nu: number): number {
  assertNu(nu, 2);
  return studentTQuantile(p, nu) * Math.sqrt((nu - 2) / nu);
}

/**
 * Expected Shortfall of the unit-variance Student-t at `confidence` (e.g. 0.99): the mean of the
 * worst 1 − confidence of outcomes, as a positive number of standard deviations,
 *
 *     ES = √((ν−2)/ν) · f_ν(q) (ν + q²) / ((ν − 1)(1 − confidence)),   q = t_ν⁻¹(confidence).
 */
export function standardizedTExpectedShortfall(confidence: number, nu: number): number {
  assertNu(nu, 2);
  assertConfidence(confidence);
  const q = studentTQuantile(confidence, nu);
  return (Math.sqrt((nu - 2) / nu) * studentTPdf(q, nu) * (nu + q * q)) / ((nu - 1) * (1 - confidence));
}

function assertConfidence(confidence: number): void {
  if (!(confidence > 0 && confidence < 1))
    throw new GarchError('INVALID_ARGUMENT', `confidence must be in (0, 1), got ${confidence}`);
}

// ---------------------------------------------------------------------------------------------
// The model

/** GARCH(1,1)-t parameters, in the units of the returns fitted (log return per bar). */
export interface GarchTParams {
  /** Mean return per bar. */
  readonly mu: number;
  /** Variance intercept ω (return² per bar), > 0. */
  readonly omega: number;
  /** ARCH coefficient α (reaction to the last squared shock), ≥ 0. */
  readonly alpha: number;
  /** GARCH coefficient β (persistence of the variance), ≥ 0, α + β < 1. */
  readonly beta: number;
  /** Degrees of freedom ν of the Student-t innovations, > 2 (smaller = fatter tails). */
  readonly nu: number;
}

export interface GarchTFit {
  readonly params: GarchTParams;
  /** Maximized log-likelihood (full, constants included) of the returns as given. */
  readonly logLikelihood: number;
  /** Number of returns fitted. */
  readonly n: number;
  /** BFGS iterations on the way to the optimum (the winning start, its polish and restarts). */
  readonly iterations: number;
  /** Likelihood evaluations in all, over every start and restart. */
  readonly evaluations: number;
  /** True when the gradient at the optimum is below `FitGarchTOptions.gradientTolerance`. */
  readonly converged: boolean;
  /** Largest |∂(−ℓ/n)/∂x| at the optimum, x the unconstrained parameters. */
  readonly gradientNorm: number;
  /** Value standing in for ε²₀ and σ²₀ (return² per bar). */
  readonly backcast: number;
  /** ε_T = r_T − μ, the last in-sample residual. */
  readonly lastResidual: number;
  /** σ²_T, the last in-sample conditional variance (return² per bar). */
  readonly lastVariance: number;
  /** σ²_{T+1} = ω + α ε²_T + β σ²_T, the one-step-ahead variance forecast (return² per bar). */
  readonly nextVariance: number;
}

export interface FitGarchTOptions {
  /**
   * Fewest returns accepted; fewer throws `TOO_SHORT`. Default 50 — a floor against nonsense, not
   * advice: ν and β need hundreds to thousands of returns to be estimated usefully.
   */
  readonly minObservations?: number;
  /** Recursion start: `'ewma'` (arch's backcast, default), `'sample-variance'`, or a variance (return²). */
  readonly backcast?: 'ewma' | 'sample-variance' | number;
  /**
   * The fit counts as converged when every |∂(−ℓ/n)/∂x| (x the unconstrained parameters) is
   * below this at the optimum. Default 1e-7, near what double precision resolves for ℓ/n; the
   * optimizer itself goes on towards 1e-9 while the likelihood still improves.
   */
  readonly gradientTolerance?: number;
  /** Most BFGS iterations per run. Default 500. */
  readonly maxIterations?: number;
  /** How many of the best grid starts are optimized. Default 3. */
  readonly starts?: number;
  /**
   * Warm start: optimize from these parameters (typically the previous fit of a rolling window)
   * and from the best grid start only, instead of from the `starts` best grid starts; the better
   * optimum wins. (The warm start alone can settle in another local optimum: the previous
   * window's need not be this one's best.) Parameters that are not admissible (α or β at 0,
   * α + β ≥ 1, ν ≤ 2) are ignored.
   */
  readonly start?: GarchTParams;
}

/** Upper bound of ν (as arch): beyond it the t is a normal for every practical purpose. */
const NU_MAX = 500;
const NU_SPAN = NU_MAX - 2;

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

function logit(p: number): number {
  return Math.log(p / (1 - p));
}

/**
 * Unconstrained parameters x ↔ (μ, ω, α, β, ν) on standardized data:
 * x0 = μ, x1 = ln ω, x2 = logit(α + β), x3 = logit(α / (α + β)), x4 = logit((ν − 2)/498).
 * Every x is admissible: ω > 0, α, β ≥ 0, α + β < 1 and 2 < ν < 500 hold by construction.
 */
function toNatural(x: Float64Array): [mu: number, omega: number, alpha: number, beta: number, nu: number] {
  const p = sigmoid(x[2]!);
  const a = sigmoid(x[3]!);
  return [x[0]!, Math.exp(x[1]!), p * a, p * (1 - a), 2 + NU_SPAN * sigmoid(x[4]!)];
}

function fromNatural(mu: number, omega: number, alpha: number, beta: number, nu: number): Float64Array {
  const p = alpha + beta;
  return Float64Array.of(mu, Math.log(omega), logit(p), logit(alpha / p), logit((nu - 2) / NU_SPAN));
}

/** Log-likelihood of the standardized-t GARCH(1,1) and, when `grad` is given, its gradient in (μ, ω, α, β, ν). */
function garchTLogLik(
  y: ArrayLike<number>,
  mu: number,
  omega: number,
  alpha: number,
  beta: number,
  nu: number,
  backcast: number,
  grad?: Float64Array,
): number {
  const n = y.length;
  const c = lnGamma((nu + 1) / 2) - lnGamma(nu / 2) - 0.5 * Math.log(Math.PI * (nu - 2));
  const half = 0.5 * (nu + 1);
  const nu2 = nu - 2;
  let s2 = omega + (alpha + beta) * backcast;
  // ℓ is summed with Neumaier's compensation: near the optimum the line search compares values
  // that differ in the 15th digit, where a plain sum of thousands of terms is already noise.
  // (Inlined, and divisions replaced by one reciprocal per step: this loop is the whole cost of
  // a fit.)
  let sum = 0;
  let compensation = 0;
  const nu2Inv = 1 / nu2;
  if (!grad) {
    let ePrev = 0;
    for (let t = 0; t < n; t++) {
      if (t > 0) s2 = omega + alpha * ePrev * ePrev + beta * s2;
      const e = y[t]! - mu;
      const term = -(0.5 * Math.log(s2) + half * Math.log1p((e * e * nu2Inv) / s2));
      const next = sum + term;
      compensation += Math.abs(sum) >= Math.abs(term) ? sum - next + term : term - next + sum;
      sum = next;
      ePrev = e;
    }
    return n * c + (sum + compensation);
  }
  // ∂σ²_t/∂θ by the same recursion; σ²₁ depends on the (fixed) backcast, not on μ.
  let dMu = 0;
  let dOmega = 1;
  let dAlpha = backcast;
  let dBeta = backcast;
  let gMu = 0;
  let gOmega = 0;
  let gAlpha = 0;
  let gBeta = 0;
  let gNu = 0;
  let ePrev = 0;
  const nu1 = nu + 1;
  for (let t = 0; t < n; t++) {
    if (t > 0) {
      dMu = -2 * alpha * ePrev + beta * dMu;
      dOmega = 1 + beta * dOmega;
      dAlpha = ePrev * ePrev + beta * dAlpha;
      dBeta = s2 + beta * dBeta;
      s2 = omega + alpha * ePrev * ePrev + beta * s2;
    }
    const e = y[t]! - mu;
    const s2Inv = 1 / s2;
    const k = e * e * s2Inv * nu2Inv;
    const l1k = Math.log1p(k);
    const term = -(0.5 * Math.log(s2) + half * l1k);
    const next = sum + term;
    compensation += Math.abs(sum) >= Math.abs(term) ? sum - next + term : term - next + sum;
    sum = next;
    const onePlusKInv = 1 / (1 + k);
    const share = k * onePlusKInv;
    const dS2 = (-0.5 + half * share) * s2Inv; // ∂ℓ_t/∂σ²_t
    const dE = -nu1 * e * s2Inv * nu2Inv * onePlusKInv; // ∂ℓ_t/∂ε_t
    gMu += dS2 * dMu - dE;
    gOmega += dS2 * dOmega;
    gAlpha += dS2 * dAlpha;
    gBeta += dS2 * dBeta;
    gNu += -0.5 * l1k + half * share * nu2Inv;
    ePrev = e;
  }
  gNu += n * (0.5 * digamma((nu + 1) / 2) - 0.5 * digamma(nu / 2) - 0.5 / nu2);
  grad[0] = gMu;
  grad[1] = gOmega;
  grad[2] = gAlpha;
  grad[3] = gBeta;
  grad[4] = gNu;
  return n * c + (sum + compensation);
}

/**
 * Log-likelihood of returns under given GARCH(1,1)-t parameters, with the same backcast rule as
 * {@link fitGarchT} (useful to compare fits, or to evaluate a reference implementation's optimum).
 */
export function garchTLogLikelihood(
  returns: Float64Array | readonly number[],
  params: GarchTParams,
  options: Pick<FitGarchTOptions, 'backcast'> = {},
): number {
  const r = checkedReturns(returns, 1);
  const bc = backcastOf(r, meanOf(r), options.backcast ?? 'ewma');
  return garchTLogLik(r, params.mu, params.omega, params.alpha, params.beta, params.nu, bc);
}

/**
 * Gradient of the log-likelihood in (μ, ω, α, β, ν), analytic (the variance derivatives follow
 * the GARCH recursion). Exposed for tests and standard errors.
 */
export function garchTLogLikelihoodGradient(
  returns: Float64Array | readonly number[],
  params: GarchTParams,
  options: Pick<FitGarchTOptions, 'backcast'> = {},
): Float64Array {
  const r = checkedReturns(returns, 1);
  const bc = backcastOf(r, meanOf(r), options.backcast ?? 'ewma');
  const grad = new Float64Array(5);
  garchTLogLik(r, params.mu, params.omega, params.alpha, params.beta, params.nu, bc, grad);
  return grad;
}

/**
 * Standard errors of (μ, ω, α, β, ν) from the observed information: the inverse of the Hessian
 * of −ℓ, by central differences of the analytic gradient. These are the classic (non-robust)
 * errors; arch reports Bollerslev–Wooldridge robust ones by default. NaN where the Hessian is not
 * positive definite (an estimate on a constraint boundary).
 */
export function garchTStandardErrors(
  returns: Float64Array | readonly number[],
  fit: GarchTFit,
  options: Pick<FitGarchTOptions, 'backcast'> = {},
): GarchTParams {
  const r = checkedReturns(returns, 1);
  const bc = backcastOf(r, meanOf(r), options.backcast ?? 'ewma');
  const p = fit.params;
  const theta = [p.mu, p.omega, p.alpha, p.beta, p.nu];
  const hessian: number[][] = [];
  const gPlus = new Float64Array(5);
  const gMinus = new Float64Array(5);
  for (let j = 0; j < 5; j++) {
    const h = 1e-5 * Math.max(Math.abs(theta[j]!), j === 0 ? 1e-2 * Math.sqrt(fit.lastVariance) : 1e-3);
    const up = theta.slice();
    const down = theta.slice();
    up[j]! += h;
    down[j]! -= h;
    garchTLogLik(r, up[0]!, up[1]!, up[2]!, up[3]!, up[4]!, bc, gPlus);
    garchTLogLik(r, down[0]!, down[1]!, down[2]!, down[3]!, down[4]!, bc, gMinus);
    hessian.push(Array.from({ length: 5 }, (_, i) => -(gPlus[i]! - gMinus[i]!) / (2 * h)));
  }
  for (let i = 0; i < 5; i++)
    for (let j = 0; j < i; j++) hessian[i]![j] = hessian[j]![i] = 0.5 * (hessian[i]![j]! + hessian[j]![i]!);
  const inverse = invert(hessian);
  const se = (i: number): number => (inverse && inverse[i]![i]! > 0 ? Math.sqrt(inverse[i]![i]!) : NaN);
  return { mu: se(0), omega: se(1), alpha: se(2), beta: se(3), nu: se(4) };
}

/** Inverse by Gauss–Jordan with partial pivoting; undefined when singular. */
function invert(matrix: readonly (readonly number[])[]): number[][] | undefined {
  const n = matrix.length;
  // Equilibrate: the parameters live on scales from 1e-8 (ω) to 1 (α).
  const d = matrix.map((row, i) => 1 / Math.sqrt(Math.abs(row[i]!) || 1));
  const a = matrix.map((row, i) => [
    ...row.map((v, j) => v * d[i]! * d[j]!),
    ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  ]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let i = col + 1; i < n; i++) if (Math.abs(a[i]![col]!) > Math.abs(a[pivot]![col]!)) pivot = i;
    if (Math.abs(a[pivot]![col]!) < 1e-14) return undefined;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    const row = a[col]!;
    const inv = 1 / row[col]!;
    for (let j = 0; j < 2 * n; j++) row[j]! *= inv;
    for (let i = 0; i < n; i++) {
      if (i === col) continue;
      const other = a[i]!;
      const factor = other[col]!;
      if (factor !== 0) for (let j = 0; j < 2 * n; j++) other[j]! -= factor * row[j]!;
    }
  }
  return a.map((row, i) => row.slice(n).map((v, j) => v * d[i]! * d[j]!));
}

function checkedReturns(returns: Float64Array | readonly number[], minObservations: number): Float64Array {
  const n = returns.length;
  if (n < minObservations) throw new GarchError('TOO_SHORT', `${n} returns, at least ${minObservations} needed`);
  const r = returns instanceof Float64Array ? returns : Float64Array.from(returns);
  for (let i = 0; i < n; i++) if (!Number.isFinite(r[i]!)) throw new GarchError('NOT_FINITE', `return ${i} is ${r[i]}`);
  return r;
}

function meanOf(r: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < r.length; i++) sum += r[i]!;
  return sum / r.length;
}

function backcastOf(r: ArrayLike<number>, mean: number, rule: 'ewma' | 'sample-variance' | number): number {
  if (typeof rule === 'number') {
    if (!(rule > 0) || !Number.isFinite(rule))
      throw new GarchError('INVALID_ARGUMENT', `backcast must be a finite variance > 0, got ${rule}`);
    return rule;
  }
  if (rule === 'sample-variance') {
    let ss = 0;
    for (let i = 0; i < r.length; i++) ss += (r[i]! - mean) ** 2;
    return ss / r.length;
  }
  const tau = Math.min(75, r.length);
  let weight = 1;
  let weights = 0;
  let sum = 0;
  for (let i = 0; i < tau; i++) {
    sum += weight * (r[i]! - mean) ** 2;
    weights += weight;
    weight *= 0.94;
  }
  return sum / weights;
}

/** What is wrong with fit options, or undefined. */
function fitOptionsProblem(options: FitGarchTOptions): string | undefined {
  const { minObservations, gradientTolerance, maxIterations, starts, backcast } = options;
  if (minObservations !== undefined && (!Number.isInteger(minObservations) || minObservations < 10))
    return `minObservations must be an integer ≥ 10, got ${minObservations}`;
  if (gradientTolerance !== undefined && !(gradientTolerance > 0 && gradientTolerance < 1))
    return `gradientTolerance must be in (0, 1), got ${gradientTolerance}`;
  if (maxIterations !== undefined && (!Number.isInteger(maxIterations) || maxIterations < 1))
    return `maxIterations must be an integer ≥ 1, got ${maxIterations}`;
  if (starts !== undefined && (!Number.isInteger(starts) || starts < 1 || starts > 32))
    return `starts must be an integer in [1, 32], got ${starts}`;
  const { start } = options;
  if (start !== undefined && !Object.values(start).every((v) => typeof v === 'number' && Number.isFinite(v)))
    return `start must hold finite mu, omega, alpha, beta and nu, got ${JSON.stringify(start)}`;
  if (
    backcast !== undefined &&
    backcast !== 'ewma' &&
    backcast !== 'sample-variance' &&
    !(typeof backcast === 'number' && backcast > 0 && Number.isFinite(backcast))
  ) {
    return `backcast must be 'ewma', 'sample-variance' or a finite variance > 0, got ${String(backcast)}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Optimizer: BFGS with the analytic gradient and a strong-Wolfe line search
// (Nocedal & Wright, Numerical Optimization, algorithms 3.5 and 3.6)

type Objective = (x: Float64Array, grad: Float64Array) => number;

interface BfgsResult {
  readonly x: Float64Array;
  readonly f: number;
  readonly gradientNorm: number;
  readonly iterations: number;
  readonly evaluations: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/**
 * Step length satisfying the strong Wolfe conditions along a descent direction, or 0 when none
 * was found. `phi(t)` returns (value, directional derivative) at x + t·d.
 */
function wolfeStep(phi: (t: number) => readonly [number, number], f0: number, slope0: number): number {
  const c1 = 1e-4;
  const c2 = 0.9;
  const armijo = (t: number, ft: number): boolean => ft <= f0 + c1 * t * slope0;
  const zoom = (lo: number, fLo: number, dLo: number, hi: number, fHi: number): number => {
    for (let k = 0; k < 60; k++) {
      const width = hi - lo;
      let trial = lo - (dLo * width * width) / (2 * (fHi - fLo - dLo * width));
      const left = Math.min(lo, hi);
      const right = Math.max(lo, hi);
      const margin = 0.1 * (right - left);
      if (!Number.isFinite(trial) || trial < left + margin || trial > right - margin) trial = 0.5 * (lo + hi);
      const [ft, dt] = phi(trial);
      if (!armijo(trial, ft) || ft >= fLo) {
        hi = trial;
        fHi = ft;
      } else {
        if (Math.abs(dt) <= -c2 * slope0) return trial;
        if (dt * (hi - lo) >= 0) {
          hi = lo;
          fHi = fLo;
        }
        lo = trial;
        fLo = ft;
        dLo = dt;
      }
      if (Math.abs(hi - lo) <= 1e-15 * Math.max(1, Math.abs(lo))) break;
    }
    // Sufficient decrease without the curvature condition still beats stalling.
    return lo > 0 && fLo < f0 ? lo : 0;
  };
  let tPrev = 0;
  let fPrev = f0;
  let dPrev = slope0;
  let t = 1;
  for (let k = 0; k < 40; k++) {
    const [ft, dt] = phi(t);
    if (!armijo(t, ft) || (k > 0 && ft >= fPrev)) return zoom(tPrev, fPrev, dPrev, t, ft);
    if (Math.abs(dt) <= -c2 * slope0) return t;
    if (dt >= 0) return zoom(t, ft, dt, tPrev, fPrev);
    tPrev = t;
    fPrev = ft;
    dPrev = dt;
    t *= 2;
  }
  return tPrev;
}

/** BFGS on the inverse Hessian, restarted from the scaled identity when it loses descent. */
function bfgs(objective: Objective, x0: Float64Array, gtol: number, maxIterations: number): BfgsResult {
  const n = x0.length;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let evaluations = 1;
  let f = objective(x, g);
  if (!Number.isFinite(f)) return { x, f: Infinity, gradientNorm: Infinity, iterations: 0, evaluations };
  const H = new Float64Array(n * n);
  const resetH = (scale: number): void => {
    H.fill(0);
    for (let i = 0; i < n; i++) H[i * n + i] = scale;
  };
  resetH(1 / Math.max(1, maxAbs(g)));
  const d = new Float64Array(n);
  const xn = new Float64Array(n);
  const gn = new Float64Array(n);
  const s = new Float64Array(n);
  const y = new Float64Array(n);
  const Hy = new Float64Array(n);
  let lastT = NaN;
  let lastF = NaN;
  const phi = (t: number): readonly [number, number] => {
    for (let i = 0; i < n; i++) xn[i] = x[i]! + t * d[i]!;
    evaluations++;
    const value = objective(xn, gn);
    lastT = t;
    lastF = Number.isFinite(value) ? value : Infinity;
    return [lastF, Number.isFinite(value) ? dot(gn, d) : NaN];
  };
  let iterations = 0;
  let flat = 0;
  for (; iterations < maxIterations; iterations++) {
    if (maxAbs(g) < gtol) break;
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v -= H[i * n + j]! * g[j]!;
      d[i] = v;
    }
    let slope = dot(g, d);
    if (!(slope < 0)) {
      resetH(1 / Math.max(1, maxAbs(g)));
      for (let i = 0; i < n; i++) d[i] = -H[i * n + i]! * g[i]!;
      slope = dot(g, d);
    }
    const t = wolfeStep(phi, f, slope);
    if (t === 0) break;
    if (lastT !== t) phi(t);
    for (let i = 0; i < n; i++) {
      s[i] = xn[i]! - x[i]!;
      y[i] = gn[i]! - g[i]!;
    }
    const sy = dot(s, y);
    if (iterations === 0 && sy > 0) resetH(sy / dot(y, y));
    if (sy > 1e-14 * Math.sqrt(dot(s, s) * dot(y, y))) {
      const rho = 1 / sy;
      for (let i = 0; i < n; i++) {
        let v = 0;
        for (let j = 0; j < n; j++) v += H[i * n + j]! * y[j]!;
        Hy[i] = v;
      }
      const yHy = dot(y, Hy);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          H[i * n + j] =
            H[i * n + j]! - rho * (Hy[i]! * s[j]! + s[i]! * Hy[j]!) + (rho * rho * yHy + rho) * s[i]! * s[j]!;
        }
      }
    }
    const improvement = f - lastF;
    x.set(xn);
    g.set(gn);
    f = lastF;
    // A run of steps that no longer move the objective ends the run (flat valley, e.g. α + β → 1).
    flat = improvement <= 0 ? flat + 1 : 0;
    if (flat >= 3) break;
  }
  return { x, f, gradientNorm: maxAbs(g), iterations, evaluations };
}

// ---------------------------------------------------------------------------------------------
// Fitting

/**
 * Maximum-likelihood fit of GARCH(1,1) with standardized Student-t innovations (see the module
 * comment for the model and arch's conventions, which this follows).
 *
 * How: the returns are standardized by their sample standard deviation s (so the optimizer sees
 * the same problem whatever the units; μ, ω, variances and the log-likelihood are mapped back:
 * μ·s, ω·s², ℓ − n ln s). The constraints are built into the parametrisation (ω = eˣ, α + β and
 * α/(α+β) logistic, ν = 2 + 498·logistic), so every trial point is admissible. Starts: arch's grid
 * (α ∈ {.01,.05,.1,.2} × α+β ∈ {.5,.7,.9,.98}, ω = s²(1 − α − β)) crossed with ν ∈ {moment
 * estimate from the kurtosis, 8}; the `starts` best by likelihood are run through BFGS with the
 * analytic gradient, the best result is restarted (fresh Hessian) until it stops improving.
 * No randomness: the same returns always give the same fit, bit for bit.
 *
 * On crypto bar returns the optimum is often at the integrated boundary α + β → 1 (arch reports
 * α + β = 1 to 8 digits on the 1h and 5m test data). The strict constraint α + β < 1 then stops
 * a hair inside it (there: 1 − α − β ≈ 2e-9, log-likelihood within 2e-7 of arch's).
 *
 * @param returns log returns, one per bar, oldest first (units: log return per bar)
 * @throws GarchError `TOO_SHORT`, `NOT_FINITE`, `DEGENERATE`, `INVALID_ARGUMENT`
 */
export function fitGarchT(returns: Float64Array | readonly number[], options: FitGarchTOptions = {}): GarchTFit {
  const problem = fitOptionsProblem(options);
  if (problem) throw new GarchError('INVALID_ARGUMENT', problem);
  const minObservations = options.minObservations ?? 50;
  const gtol = options.gradientTolerance ?? 1e-7;
  const stopAt = gtol / 100;
  const maxIterations = options.maxIterations ?? 500;
  const starts = options.starts ?? 3;
  const r = checkedReturns(returns, minObservations);
  const n = r.length;
  const mean = meanOf(r);
  let ss = 0;
  let maxDev = 0;
  for (let i = 0; i < n; i++) {
    ss += (r[i]! - mean) ** 2;
    maxDev = Math.max(maxDev, Math.abs(r[i]! - mean));
  }
  const sd = Math.sqrt(ss / n);
  if (!(sd > 0) || maxDev <= 1e-12 * Math.max(Math.abs(mean), 1e-300))
    throw new GarchError('DEGENERATE', `returns are constant (${mean}): no variance to model`);

  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = r[i]! / sd;
  const meanY = mean / sd;
  const rule = options.backcast ?? 'ewma';
  const bcY = typeof rule === 'number' ? backcastOf(r, mean, rule) / (sd * sd) : backcastOf(y, meanY, rule);

  const natural = new Float64Array(5);
  const objective: Objective = (x, grad) => {
    const [mu, omega, alpha, beta, nu] = toNatural(x);
    const ll = garchTLogLik(y, mu, omega, alpha, beta, nu, bcY, natural);
    if (!Number.isFinite(ll)) return Infinity;
    // Chain rule to the unconstrained x; minimize −ℓ/n so that tolerances do not depend on n.
    const p = alpha + beta;
    const a = p > 0 ? alpha / p : 0;
    const dp = p * (1 - p);
    const da = a * (1 - a);
    const sNu = (nu - 2) / NU_SPAN;
    grad[0] = -natural[0]! / n;
    grad[1] = (-natural[1]! * omega) / n;
    grad[2] = (-(natural[2]! * a + natural[3]! * (1 - a)) * dp) / n;
    grad[3] = (-(natural[2]! - natural[3]!) * p * da) / n;
    grad[4] = (-natural[4]! * NU_SPAN * sNu * (1 - sNu)) / n;
    return -ll / n;
  };

  // Starting values from the sample, as arch does: a grid, ranked by likelihood.
  let m4 = 0;
  for (let i = 0; i < n; i++) m4 += (y[i]! - meanY) ** 4;
  const kurtosis = m4 / n; // y has unit variance
  const nuMoment = Math.max(kurtosis > 3.75 ? (4 * kurtosis - 6) / (kurtosis - 3) : 12, 4);
  const grid: { x: Float64Array; f: number }[] = [];
  const scratch = new Float64Array(5);
  for (const alpha of [0.01, 0.05, 0.1, 0.2]) {
    for (const persistence of [0.5, 0.7, 0.9, 0.98]) {
      for (const nu of [nuMoment, 8]) {
        const x = fromNatural(meanY, 1 - persistence, alpha, persistence - alpha, nu);
        grid.push({ x, f: objective(x, scratch) });
      }
    }
  }
  let evaluations = grid.length;
  grid.sort((p, q) => p.f - q.f);
  const startsFrom = grid.filter((g) => Number.isFinite(g.f)).map((g) => g.x);
  if (options.start) {
    // Warm start, in the standardized units of this window, in place of all grid starts but the
    // best: the likelihood can have more than one optimum, and the previous window's need not be
    // this window's best.
    const { mu, omega, alpha, beta, nu } = options.start;
    const x0 = fromNatural(mu / sd, omega / (sd * sd), alpha, beta, nu);
    startsFrom.splice(1, startsFrom.length, ...(x0.every(Number.isFinite) ? [x0] : []));
  }
  let best: BfgsResult | undefined;
  for (const x0 of startsFrom.slice(0, Math.max(1, options.start ? 2 : starts))) {
    const run = bfgs(objective, x0, gtol, maxIterations);
    evaluations += run.evaluations;
    if (!best || run.f < best.f) best = run;
  }
  if (best && Number.isFinite(best.f)) {
    // Polish the winner past the tolerance, for agreement with other implementations to more
    // digits than the statistics need.
    const run = bfgs(objective, best.x, stopAt, maxIterations);
    evaluations += run.evaluations;
    if (run.f <= best.f) best = { ...run, iterations: best.iterations + run.iterations };
  }
  if (!best || !Number.isFinite(best.f))
    throw new GarchError('DEGENERATE', 'the likelihood is not finite at any starting value');
  // A run that stalled short of the tolerance (stale curvature, a flat valley) restarts from
  // its end with a fresh Hessian, as long as that still improves the likelihood.
  for (let restart = 0; restart < 5 && best.gradientNorm >= gtol; restart++) {
    const run = bfgs(objective, best.x, stopAt, maxIterations);
    evaluations += run.evaluations;
    const improved = best.f - run.f;
    if (run.f <= best.f) best = { ...run, iterations: best.iterations + run.iterations };
    if (!(improved > 1e-14 * (1 + Math.abs(best.f)))) break;
  }

  const [muY, omegaY, alpha, beta, nu] = toNatural(best.x);
  // Filter once more at the optimum for the last residual and variance.
  let s2 = omegaY + (alpha + beta) * bcY;
  let e = y[0]! - muY;
  for (let t = 1; t < n; t++) {
    s2 = omegaY + alpha * e * e + beta * s2;
    e = y[t]! - muY;
  }
  const v = sd * sd;
  const params: GarchTParams = { mu: muY * sd, omega: omegaY * v, alpha, beta, nu };
  return {
    params,
    logLikelihood: -best.f * n - n * Math.log(sd),
    n,
    iterations: best.iterations,
    evaluations,
    converged: best.gradientNorm < gtol,
    gradientNorm: best.gradientNorm,
    backcast: bcY * v,
    lastResidual: e * sd,
    lastVariance: s2 * v,
    nextVariance: (omegaY + alpha * e * e + beta * s2) * v,
  };
}

// ---------------------------------------------------------------------------------------------
// Forecasts and risk

export interface VarianceForecast {
  /** σ²_{T+k} for k = 1..horizon (return² per bar). */
  readonly perStep: readonly number[];
  /** Σ_k σ²_{T+k}: the variance of the summed return over the horizon (return²). */
  readonly total: number;
}

/**
 * Multi-step variance forecast: σ²_{T+1} from the fit, then E[σ²_{T+k+1}] = ω + (α + β)·σ²_{T+k};
 * `total` is their sum, the conditional variance of r_{T+1} + … + r_{T+h} (the returns are
 * uncorrelated, so the variances add). The recursion, not the closed form through ω/(1 − α − β),
 * so that α + β ≈ 1 stays exact.
 *
 * @param horizon steps ahead, in bars (integer ≥ 1)
 */
export function forecastVariance(fit: Pick<GarchTFit, 'params' | 'nextVariance'>, horizon: number): VarianceForecast {
  if (!Number.isInteger(horizon) || horizon < 1)
    throw new GarchError('INVALID_ARGUMENT', `horizon must be an integer ≥ 1 (bars), got ${horizon}`);
  const { omega, alpha, beta } = fit.params;
  const perStep = new Array<number>(horizon);
  let v = fit.nextVariance;
  let total = 0;
  for (let k = 0; k < horizon; k++) {
    perStep[k] = v;
    total += v;
    v = omega + (alpha + beta) * v;
  }
  return { perStep, total };
}

export interface VarCvarOptions {
  /**
   * Whether the horizon's expected return h·μ offsets the loss (arch's VaR recipe does). Default
   * false: zero-mean VaR, the usual risk-desk choice for short horizons — a drift estimated on a
   * few weeks of a rally is mostly noise and would lower VaR exactly when it should not.
   */
  readonly includeMean?: boolean;
}

export interface VarCvar {
  /** Value-at-Risk: the loss of the horizon's summed log return exceeded with probability 1 − confidence (positive = loss). */
  readonly var: number;
  /** Expected Shortfall (CVaR): the mean loss beyond the VaR, same units (≥ var). */
  readonly cvar: number;
  /** √(Σ_k σ²_{T+k}): volatility of the summed log return over the horizon. */
  readonly sigma: number;
  /** h·μ when `includeMean`, else 0. */
  readonly mean: number;
  /** Standardized-t quantile used (positive, in standard deviations). */
  readonly quantile: number;
  /** Standardized-t expected shortfall used (positive, in standard deviations). */
  readonly shortfall: number;
  readonly confidence: number;
  /** In bars. */
  readonly horizon: number;
}

/**
 * VaR and Expected Shortfall of the next `horizon` bars' summed log return, as positive loss
 * fractions (log-return units: 0.08 is a loss of about 8 %; for a long position the exact loss of
 * value at the VaR is 1 − e^(−var), slightly less, so reading `var` as a fraction of value is
 * conservative for longs; a short's loss at the mirrored quantile, e^(var) − 1, is slightly more).
 *
 * How the multi-step distribution is approximated: the summed return is taken as
 * h·μ + σ_h·z with σ_h² = Σ_k σ²_{T+k} ({@link forecastVariance}) and z the *same* standardized
 * t(ν) as the one-step innovations — what practitioners and arch's analytic forecast do. It is
 * exact for h = 1; for h > 1 the true sum of GARCH-t returns is not t: aggregation thins the
 * tails (towards normal) while volatility clustering fattens them, so at 99 % this is an
 * approximation (simulation would be the exact alternative).
 *
 *     VaR  = σ_h · √((ν−2)/ν) · t_ν⁻¹(c)  − h·μ
 *     CVaR = σ_h · ES_std(c, ν)            − h·μ        (h·μ only with includeMean)
 *
 * @param confidence e.g. 0.99 (probability, in (0, 1))
 * @param horizon bars (integer ≥ 1); for one day of 1h bars, 24
 */
export function varCvarT(
  fit: Pick<GarchTFit, 'params' | 'nextVariance'>,
  confidence: number,
  horizon: number,
  options: VarCvarOptions = {},
): VarCvar {
  assertConfidence(confidence);
  const { total } = forecastVariance(fit, horizon);
  const sigma = Math.sqrt(total);
  const nu = fit.params.nu;
  const quantile = standardizedTQuantile(confidence, nu);
  const shortfall = standardizedTExpectedShortfall(confidence, nu);
  const mean = options.includeMean ? horizon * fit.params.mu : 0;
  return {
    var: sigma * quantile - mean,
    cvar: sigma * shortfall - mean,
    sigma,
    mean,
    quantile,
    shortfall,
    confidence,
    horizon,
  };
}

// ---------------------------------------------------------------------------------------------
// The operator

/** A fresh market-risk estimate for one series, emitted after each refit. */
export interface MarketRiskEstimate {
  readonly kind: 'market-risk';
  readonly venue: VenueId;
  readonly symbol: Symbol;
  /** Timeframe of the bars the model was fitted on. */
  readonly timeframe: Timeframe;
  /** tsEvent of the bar that triggered the refit: the newest return in the fit ends there (no later data used). */
  readonly tsEvent: Timestamp;
  /** Returns in the fitting window. */
  readonly returnsUsed: number;
  /** Fitted parameters, per bar of `timeframe` (log-return units). */
  readonly params: GarchTParams;
  readonly logLikelihood: number;
  /** The optimizer's verdict; an estimate with `false` is still the best point found. */
  readonly converged: boolean;
  readonly iterations: number;
  /** √σ²_{T+1}: volatility of the next bar's log return. */
  readonly sigmaBar: number;
  /** √(Σ σ²_{T+k}, k = 1..horizonBars): volatility of the next day's summed log return. */
  readonly sigmaDay: number;
  /** Bars in one day (the VaR horizon): 86 400 000 ms / timeframe. */
  readonly horizonBars: number;
  /** Confidence of `var` and `cvar`, e.g. 0.99. */
  readonly confidence: number;
  /** 1-day VaR, positive loss fraction (log-return units, see {@link varCvarT}). */
  readonly var: number;
  /** 1-day Expected Shortfall (CVaR), positive loss fraction, ≥ var. */
  readonly cvar: number;
  /** Whether the fitted drift offsets var and cvar. */
  readonly includesMean: boolean;
  /**
   * True when the model was refitted on this bar; false for an estimate rolled forward from the
   * last fit with this bar's return (`rollForward`): same parameters, updated variance.
   */
  readonly refit: boolean;
}

export interface EstimateMarketRiskConfig {
  /** Most recent returns the model is fitted on (one per pair of adjacent bars). Default 2 000. */
  readonly windowBars?: number;
  /**
   * Refit period in bars. Refits happen on the bar whose tsEvent reaches a multiple of
   * refitEveryBars × timeframe since the epoch (UTC-aligned: with the default, at 00:00 UTC),
   * so a backtest and a live run refit on the same bars whatever time they started. Default: one
   * day's worth of the series' timeframe (1 440 for 1m, 24 for 1h, 1 for 1d).
   */
  readonly refitEveryBars?: number;
  /** Fewest returns in the window before the first fit; until then nothing is emitted. Default min(500, windowBars). */
  readonly minReturns?: number;
  /** VaR / CVaR confidence (probability). Default 0.99. */
  readonly confidence?: number;
  /** Subtract the fitted 1-day drift from the losses (see {@link VarCvarOptions}). Default false. */
  readonly includeMean?: boolean;
  /** Passed to {@link fitGarchT}; `minObservations` defaults to `minReturns` here. */
  readonly fit?: FitGarchTOptions;
  /**
   * Start each refit from the previous fit of the series as well as from the best grid start
   * ({@link FitGarchTOptions.start}) instead of from the three best grid starts. Default false:
   * measured on the 5m BTC file with the Growth settings (window = refit period, so consecutive
   * windows share no return), it saves only ~10 % of the likelihood evaluations, and a warm start
   * alone — the large saving, 2.9× — can settle in a worse local optimum on small windows.
   */
  readonly warmStart?: boolean;
  /**
   * Between refits, roll the conditional variance forward with every new return,
   * σ²_{t+1} = ω + α (r_t − μ)² + β σ²_t, and emit the estimate it implies (O(1) per bar), so the
   * VaR follows the market between refits instead of staying at the last fit's. Default true.
   */
  readonly rollForward?: boolean;
}

const DAY_MS = 86_400_000;

interface ResolvedConfig {
  readonly windowBars: number;
  readonly refitEveryBars: number | undefined;
  readonly minReturns: number;
  readonly confidence: number;
  readonly includeMean: boolean;
  readonly fit: FitGarchTOptions;
  readonly warmStart: boolean;
  readonly rollForward: boolean;
}

function resolveConfig(config: EstimateMarketRiskConfig): ResolvedConfig {
  const fail = (key: string, expected: string, found: unknown): never => {
    throw new GarchError('INVALID_CONFIG', `estimateMarketRisk.${key}: expected ${expected}, found ${String(found)}`);
  };
  const windowBars = config.windowBars ?? 2000;
  if (!Number.isInteger(windowBars) || windowBars < 10) fail('windowBars', 'an integer ≥ 10', config.windowBars);
  const minReturns = config.minReturns ?? Math.min(500, windowBars);
  if (!Number.isInteger(minReturns) || minReturns < 10 || minReturns > windowBars)
    fail('minReturns', `an integer in [10, windowBars = ${windowBars}]`, config.minReturns);
  const refitEveryBars = config.refitEveryBars;
  if (refitEveryBars !== undefined && (!Number.isInteger(refitEveryBars) || refitEveryBars < 1))
    fail('refitEveryBars', 'an integer ≥ 1', refitEveryBars);
  const confidence = config.confidence ?? 0.99;
  if (!(confidence > 0 && confidence < 1)) fail('confidence', 'a probability in (0, 1)', config.confidence);
  const fitProblem = fitOptionsProblem(config.fit ?? {});
  if (fitProblem) fail('fit', 'valid fit options', fitProblem);
  const minObservations = config.fit?.minObservations ?? minReturns;
  if (!Number.isInteger(minObservations) || minObservations < 10 || minObservations > minReturns)
    fail('fit.minObservations', `an integer in [10, minReturns = ${minReturns}]`, minObservations);
  return {
    windowBars,
    refitEveryBars,
    minReturns,
    confidence,
    includeMean: config.includeMean ?? false,
    fit: { ...config.fit, minObservations },
    warmStart: config.warmStart ?? false,
    rollForward: config.rollForward ?? true,
  };
}

interface SeriesState {
  /** The last bar of the series seen (valid or not). */
  last: Bar;
  /** Returns, ring buffer of windowBars. */
  readonly ring: Float64Array;
  head: number;
  count: number;
  /** The last fit, rolled forward between refits. */
  model?: RolledModel;
}

/**
 * The last fit and what rolling it forward needs. The horizon's variance is linear in the next
 * bar's: Σ_k σ²_{T+k} = a + b·σ²_{T+1} with a and b from the forecast recursion of the fit
 * (computed once per fit), so each rolled bar costs O(1).
 */
interface RolledModel {
  readonly fit: GarchTFit;
  readonly a: number;
  readonly b: number;
  readonly quantile: number;
  readonly shortfall: number;
  readonly mean: number;
  nextVariance: number;
}

/**
 * Turns bars into a GARCH(1,1)-t market-risk estimate per series (venue, symbol, timeframe):
 * log returns of adjacent bars go into a rolling window of `windowBars`; on the refit schedule
 * the model is fitted afresh on the window and the 1-day VaR and CVaR are emitted.
 *
 * ```
 * bars:  -a-b-c-d-e-f-g-h-|     refitEveryBars = 4, window ready from c on
 * out:   -------D-------H-|     D fitted on the returns up to d, H up to h
 * ```
 *
 * - **Scale.** The model is fitted on the bar returns and forecast one day of bars ahead
 *   (`horizonBars` = 1 day / timeframe, the variances summed), rather than fitted on daily
 *   returns: a window of a few months holds only tens of daily returns, far too few to identify
 *   a GARCH-t (ν alone needs hundreds), while the bar returns carry the same days' information
 *   many times over and react within the day. The price: intraday seasonality and, at 1m,
 *   microstructure noise enter the fit; for 1d bars the two are the same.
 * - **Gaps.** A return is taken only between adjacent bars (tsOpen = previous tsEvent). The
 *   return across a gap spans several bars and is skipped, not rescaled (rescaling by √k would
 *   assume a flat variance over the outage); the variance recursion then runs on as if the next
 *   return followed directly — a small approximation for the few outage gaps real data have.
 *   A bar at or before the previous one (duplicate, out of order) is ignored; a bar with a
 *   non-positive or non-finite close yields no return on either side.
 * - **Determinism.** Each fit is a function of its window only (no warm start, no randomness),
 *   so replay and live agree whenever their windows do.
 * - **Not ready / unusable.** Nothing is emitted until the window holds `minReturns` returns.
 *   A window the model cannot be fitted to (constant prices: `GarchError` DEGENERATE) skips
 *   that refit; the consumer sees the previous estimate age (its tsEvent). Any other exception
 *   goes to the error channel.
 *
 * @example
 * bars$.pipe(estimateMarketRisk({ windowBars: 2000 }))   // 1h bars: refit daily at 00:00 UTC
 *   .subscribe((e) => console.log(e.symbol, e.var, e.cvar)); // 1-day 99 % VaR / CVaR fractions
 *
 * @param config see {@link EstimateMarketRiskConfig}; validated here, before any subscription
 * @throws GarchError `INVALID_CONFIG`
 */
export function estimateMarketRisk(config: EstimateMarketRiskConfig = {}): OperatorFunction<Bar, MarketRiskEstimate> {
  const resolved = resolveConfig(config);
  return (source) =>
    new Observable<MarketRiskEstimate>((subscriber) => {
      const series = new Map<string, SeriesState>();
      return source.subscribe({
        next: (bar) => {
          let estimate: MarketRiskEstimate | undefined;
          try {
            estimate = onBar(series, bar, resolved);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (estimate) subscriber.next(estimate);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

function validClose(bar: Bar): boolean {
  return Number.isFinite(bar.close) && bar.close > 0;
}

function onBar(series: Map<string, SeriesState>, bar: Bar, config: ResolvedConfig): MarketRiskEstimate | undefined {
  const key = `${bar.venue}|${bar.symbol}|${bar.timeframe}`;
  const tf = timeframeMs(bar.timeframe);
  const period = (config.refitEveryBars ?? DAY_MS / tf) * tf;
  let state = series.get(key);
  let previousEvent: number;
  let rolled = false;
  if (!state) {
    state = { last: bar, ring: new Float64Array(config.windowBars), head: 0, count: 0 };
    series.set(key, state);
    previousEvent = bar.tsOpen;
  } else {
    const previous = state.last;
    if (bar.tsOpen < previous.tsEvent) return undefined;
    previousEvent = previous.tsEvent;
    const r =
      bar.tsOpen === previous.tsEvent && validClose(previous) && validClose(bar)
        ? Math.log(bar.close / previous.close)
        : NaN;
    if (Number.isFinite(r)) {
      state.ring[state.head] = r;
      state.head = (state.head + 1) % config.windowBars;
      state.count = Math.min(state.count + 1, config.windowBars);
      const model = state.model;
      if (model) {
        const { mu, omega, alpha, beta } = model.fit.params;
        model.nextVariance = omega + alpha * (r - mu) ** 2 + beta * model.nextVariance;
      }
    }
    rolled = Number.isFinite(r);
    state.last = bar;
  }
  // Refit when (previous tsEvent, tsEvent] contains a multiple of the period.
  const due = Math.floor(bar.tsEvent / period) > Math.floor(previousEvent / period);
  if (!due || state.count < config.minReturns) {
    return rolled && config.rollForward && state.model ? rolledEstimate(state.model, bar, config, tf) : undefined;
  }

  const window = new Float64Array(state.count);
  const start = state.count < config.windowBars ? 0 : state.head;
  for (let i = 0; i < state.count; i++) window[i] = state.ring[(start + i) % config.windowBars]!;
  let fit: GarchTFit;
  try {
    fit = fitGarchT(
      window,
      config.warmStart && state.model ? { ...config.fit, start: state.model.fit.params } : config.fit,
    );
  } catch (err) {
    if (err instanceof GarchError && err.code === 'DEGENERATE') {
      return rolled && config.rollForward && state.model ? rolledEstimate(state.model, bar, config, tf) : undefined;
    }
    throw err;
  }
  const horizonBars = DAY_MS / tf;
  const risk = varCvarT(fit, config.confidence, horizonBars, { includeMean: config.includeMean });
  if (config.warmStart || config.rollForward) {
    // Σ_k σ²_{T+k} = a + b·σ²_{T+1}: the forecast recursion run on (ω, 0) and (0, 1).
    const p = fit.params.alpha + fit.params.beta;
    let a = 0;
    let b = 0;
    let va = 0;
    let vb = 1;
    for (let k = 0; k < horizonBars; k++) {
      a += va;
      b += vb;
      va = fit.params.omega + p * va;
      vb = p * vb;
    }
    state.model = {
      fit,
      a,
      b,
      quantile: risk.quantile,
      shortfall: risk.shortfall,
      mean: risk.mean,
      nextVariance: fit.nextVariance,
    };
  }
  return {
    kind: 'market-risk',
    venue: bar.venue,
    symbol: bar.symbol,
    timeframe: bar.timeframe,
    tsEvent: bar.tsEvent,
    returnsUsed: fit.n,
    params: fit.params,
    logLikelihood: fit.logLikelihood,
    converged: fit.converged,
    iterations: fit.iterations,
    sigmaBar: Math.sqrt(fit.nextVariance),
    sigmaDay: risk.sigma,
    horizonBars,
    confidence: config.confidence,
    var: risk.var,
    cvar: risk.cvar,
    includesMean: config.includeMean,
    refit: true,
  };
}

/** The last fit's estimate with the variance rolled forward to this bar. */
function rolledEstimate(model: RolledModel, bar: Bar, config: ResolvedConfig, tf: number): MarketRiskEstimate {
  const { fit } = model;
  const sigma = Math.sqrt(model.a + model.b * model.nextVariance);
  return {
    kind: 'market-risk',
    venue: bar.venue,
    symbol: bar.symbol,
    timeframe: bar.timeframe,
    tsEvent: bar.tsEvent,
    returnsUsed: fit.n,
    params: fit.params,
    logLikelihood: fit.logLikelihood,
    converged: fit.converged,
    iterations: fit.iterations,
    sigmaBar: Math.sqrt(model.nextVariance),
    sigmaDay: sigma,
    horizonBars: DAY_MS / tf,
    confidence: config.confidence,
    var: sigma * model.quantile - model.mean,
    cvar: sigma * model.shortfall - model.mean,
    includesMean: config.includeMean,
    refit: false,
  };
}
