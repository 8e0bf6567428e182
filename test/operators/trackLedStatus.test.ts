import { map } from 'rxjs/operators';
import type { LedStatus } from '../../operators/ledPattern';
import { showLedPattern } from '../../operators/ledPattern';
import { type LedStatusInput, trackLedStatus } from '../../operators/trackLedStatus';
import type { Mode, ModeChanged } from '../../operators/types';
import { makeTestScheduler } from '../support/marbles';

const change = (from: Mode, to: Mode, reason: string): ModeChanged => ({
  kind: 'mode-changed',
  from,
  to,
  reason,
  tsEvent: 0,
});

const I: Record<string, LedStatusInput> = {
  w: { kind: 'warmed-up' },
  d: { kind: 'feed-disconnected', stream: 'ohlcv' },
  t: { kind: 'feed-disconnected', stream: 'trades' },
  c: { kind: 'feed-connected', stream: 'ohlcv' },
  h: { kind: 'feed-healthy', stream: 'trades' },
  k: change('Normal', 'Emergency', 'kill switch pressed: SIGUSR2'),
  K: change('Normal', 'Emergency', 'kill switch pressed: kill switch latched in an earlier session (Emergency)'),
  D: change('Normal', 'Emergency', 'drawdown 0.26 ≥ emergency limit 0.25'),
  P: change('Normal', 'Paused', 'breaker feed:ohlcv OPEN'),
  N: change('Paused', 'Normal', 'breaker feed:ohlcv CLOSED'),
  r: change('Emergency', 'Normal', 'reset: checked the account'),
};

const S: Record<string, LedStatus> = {
  a: { mode: 'Normal', killLatched: false, trading: false },
  b: { mode: 'Normal', killLatched: false, trading: true },
  e: { mode: 'Emergency', killLatched: true, trading: true },
  E: { mode: 'Emergency', killLatched: true, trading: false },
  x: { mode: 'Emergency', killLatched: false, trading: true },
  p: { mode: 'Paused', killLatched: false, trading: true },
  q: { mode: 'Paused', killLatched: false, trading: false },
};

describe('trackLedStatus (session events → LED status)', () => {
  it('is alive but not trading until the warm-up ends, and while any feed stream is down', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-w-d-t-c-h-|', I).pipe(trackLedStatus('Normal'))).toBe('ab-a-----b-|', S);
    });
  });

  it('latches the blink on a kill-switch Emergency (pressed now or restored from the journal), not on a drawdown one', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-w-k-r-|', I).pipe(trackLedStatus('Normal'))).toBe('ab-e-b-|', S);
      expectObservable(cold('-K-w-|', I).pipe(trackLedStatus('Normal'))).toBe('aE-e-|', S);
      expectObservable(cold('-w-D-|', I).pipe(trackLedStatus('Normal'))).toBe('ab-x-|', S);
    });
  });

  it('follows Paused and back, keeping the outage apart from the mode', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-w-P-d-c-N-|', I).pipe(trackLedStatus('Normal'))).toBe('ab-p-q-p-b-|', S);
    });
  });

  it('restored latch at start-up shows red blinking from the first frame the mode reaches the LEDs', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const frames = cold('-K 9ms |', I).pipe(
        trackLedStatus('Normal'),
        showLedPattern({ blinkMs: 3, heartbeatMs: 8, flashMs: 1 }),
        map((f) => (f.lit === null ? '_' : f.lit[0]!)),
      );
      // heartbeat (not trading yet) flashes green, then the restored latch blinks red
      expectObservable(frames).toBe('gr--_--r--_(_|)');
    });
  });

  it('sends a mode change to an unknown mode to the error channel', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const bad = { ...change('Normal', 'Normal', 'x'), to: 'Sideways' as Mode };
      expectObservable(cold('-w-z-', { ...I, z: bad }).pipe(trackLedStatus('Normal'))).toBe(
        'ab-#',
        S,
        new RangeError('trackLedStatus: mode-changed to an unknown mode Sideways'),
      );
    });
  });
});
