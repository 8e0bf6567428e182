/**
 * Checks of the appliance's wiring for `run-pipeline doctor`: is there real GPIO, does the kill
 * switch read released, does each status LED light. Same pins and rpio setup as the kill switch
 * and the LEDs (BCM numbering through /dev/gpiomem).
 */
import { existsSync } from 'node:fs';
import { LED_COLORS, type LedColor } from '../operators/ledPattern';
import { checkBcmPin, initRpio, loadRpio, type RpioLike, type RpioMockBoard } from './killSwitch';
import type { StatusLedPins } from './statusLeds';

export interface GpioProbeConfig {
  /** rpio mock board; undefined = real GPIO when /dev/gpiomem exists, else mock mode said out loud. */
  readonly mock?: RpioMockBoard;
  /** The rpio module (tests pass a wrapper); default the real one. */
  readonly rpio?: RpioLike;
  /** Where the GPIO memory device is looked for; default /dev/gpiomem. */
  readonly gpiomemPath?: string;
}

export interface GpioAccess {
  readonly rpio: RpioLike;
  /** True on real hardware; false in rpio's mock mode (no pin is wired to anything). */
  readonly real: boolean;
  /** Why it is what it is, for the doctor's table. */
  readonly detail: string;
}

/** Opens rpio the way the session will: real GPIO when the device is there, else mock mode. */
export function openGpio(config: GpioProbeConfig = {}): GpioAccess {
  const device = config.gpiomemPath ?? '/dev/gpiomem';
  const rpio = config.rpio ?? loadRpio();
  if (config.mock !== undefined || !existsSync(device)) {
    const board = config.mock ?? 'raspi-3';
    initRpio(rpio, board);
    return {
      rpio,
      real: false,
      detail:
        config.mock !== undefined
          ? `rpio mock mode (${board}) as asked: no pin is wired; use --kill-switch signal`
          : `${device} not found: not a Raspberry Pi (or no access: add the user to the gpio group); rpio runs in mock mode (${board}), so no button or LED is wired — use --kill-switch signal`,
    };
  }
  initRpio(rpio, undefined);
  return { rpio, real: true, detail: `${device} opened, BCM numbering` };
}

export type ButtonReading = 'released' | 'pressed';

/**
 * Reads the kill-switch button once with the internal pull-up, as the session does: HIGH =
 * released (the button shorts the pin to ground when pressed). The pin is closed afterwards.
 */
export function readButton(rpio: RpioLike, pin = 17): ButtonReading {
  checkBcmPin(pin, 'button pin');
  rpio.open(pin, rpio.INPUT, rpio.PULL_UP);
  try {
    return rpio.read(pin) === rpio.HIGH ? 'released' : 'pressed';
  } finally {
    rpio.close(pin, rpio.PIN_RESET);
  }
}

export interface LedSelfTestResult {
  readonly color: LedColor;
  readonly pin: number;
  /** The level read back from the pin while it should be lit (1 = driven HIGH). */
  readonly readBack: number;
  /** What the person said they saw (true when `--yes` answered for them). */
  readonly confirmed: boolean;
}

/**
 * Lights each LED alone in turn (green, yellow, red), reads the pin back and asks `confirm`
 * whether the person sees it; every LED is off and every pin closed at the end, also on an error.
 */
export async function ledSelfTest(
  rpio: RpioLike,
  pins: StatusLedPins,
  confirm: (color: LedColor, pin: number) => Promise<boolean>,
): Promise<LedSelfTestResult[]> {
  for (const color of LED_COLORS) checkBcmPin(pins[color], `statusLeds.pins.${color}`);
  const opened: number[] = [];
  const results: LedSelfTestResult[] = [];
  try {
    for (const color of LED_COLORS) {
      rpio.open(pins[color], rpio.OUTPUT, rpio.LOW);
      opened.push(pins[color]);
    }
    for (const color of LED_COLORS) {
      for (const other of LED_COLORS) rpio.write(pins[other], other === color ? rpio.HIGH : rpio.LOW);
      const readBack = rpio.read(pins[color]);
      const confirmed = await confirm(color, pins[color]);
      results.push({ color, pin: pins[color], readBack, confirmed });
    }
    return results;
  } finally {
    for (const pin of opened) {
      try {
        rpio.write(pin, rpio.LOW);
        rpio.close(pin, rpio.PIN_RESET);
      } catch {
        // best effort: the self-test is over either way
      }
    }
  }
}
