/**
 * Puts `element` right after `previous` (or first in `parent`), moving it
 * only when it is not there already: keyed rows keep their place, and a
 * button under the pointer does not move unless its row must.
 */
export function placeAfter(parent: Element, previous: Element | null, element: Element): void {
  const expected = previous ? previous.nextElementSibling : parent.firstElementChild;
  if (expected === element) return;
  if (previous) previous.after(element);
  else parent.prepend(element);
}
