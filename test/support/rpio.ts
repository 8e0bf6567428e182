/**
 * The real rpio module in mock mode for tests: `rpioWith` delegates every call to it (already
 * initialised by `mockRpio`), with some calls replaced — to record writes, fake a button level or
 * make a pin fail. rpio's constants live on its prototype, so they are copied one by one.
 */
import { initRpio, loadRpio, type RpioLike } from '../../hardware/killSwitch';

/** rpio, initialised once for the process in `raspi-3` mock mode (every test uses the same board). */
export function mockRpio(): RpioLike {
  const rpio = loadRpio();
  initRpio(rpio, 'raspi-3');
  return rpio;
}

/** Delegates to the (mock-initialised) real module, with some calls replaced. */
export function rpioWith(overrides: Partial<RpioLike> = {}): RpioLike {
  const rpio = mockRpio();
  return {
    LOW: rpio.LOW,
    HIGH: rpio.HIGH,
    INPUT: rpio.INPUT,
    OUTPUT: rpio.OUTPUT,
    PULL_UP: rpio.PULL_UP,
    POLL_LOW: rpio.POLL_LOW,
    PIN_RESET: rpio.PIN_RESET,
    PIN_PRESERVE: rpio.PIN_PRESERVE,
    init: () => undefined,
    open: (pin, mode, option) => rpio.open(pin, mode, option),
    read: (pin) => rpio.read(pin),
    write: (pin, value) => rpio.write(pin, value),
    poll: (pin, callback, direction) => rpio.poll(pin, callback, direction),
    close: (pin, reset) => rpio.close(pin, reset),
    ...overrides,
  };
}
