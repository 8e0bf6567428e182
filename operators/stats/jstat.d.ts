/**
 * The part of jStat (https://github.com/jstat/jstat, MIT) that operators/stats uses. jStat ships
 * no type declarations and DefinitelyTyped has none, so the used surface is declared here.
 */
declare module 'jstat' {
  interface ContinuousDistribution {
    cdf(x: number, ...params: number[]): number;
    inv(p: number, ...params: number[]): number;
    pdf(x: number, ...params: number[]): number;
  }
  interface JStatStatic {
    readonly normal: ContinuousDistribution;
    readonly chisquare: ContinuousDistribution;
    readonly studentt: ContinuousDistribution;
    /** Regularized lower incomplete gamma function P(a, x). */
    lowRegGamma(a: number, x: number): number;
    /** ln Γ(x). */
    gammaln(x: number): number;
  }
  export const jStat: JStatStatic;
}
