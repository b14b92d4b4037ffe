"use client";

import { type KeyboardEvent, type ReactNode, useRef } from "react";

export interface TabSpec<K extends string> {
  key: K;
  label: string;
  testId?: string;
}

const tabId = (idPrefix: string, key: string) => `${idPrefix}-tab-${key}`;
const panelId = (idPrefix: string, key: string) => `${idPrefix}-panel-${key}`;

/** The tab a key moves to from tab `current` of `count`, or null for any other key. */
function moveTo(key: string, current: number, count: number): number | null {
  switch (key) {
    case "ArrowRight":
      return (current + 1) % count;
    case "ArrowLeft":
      return (current - 1 + count) % count;
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return null;
  }
}

/**
 * A WAI-ARIA tab list (automatic activation): one tab stop, the selected tab (roving
 * `tabindex`); ←/→ (wrapping), Home and End move to a tab and select it; a click selects it.
 * Each tab controls the `TabPanel` with the same `idPrefix` and key.
 */
export function TabList<K extends string>({
  idPrefix,
  labelledBy,
  tabs,
  selected,
  onSelect,
}: {
  idPrefix: string;
  /** the id of the heading that names the tabs */
  labelledBy: string;
  tabs: readonly TabSpec<K>[];
  selected: K;
  onSelect: (key: K) => void;
}) {
  const buttons = useRef<(HTMLButtonElement | null)[]>([]);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const current = Math.max(0, tabs.findIndex((tab) => tab.key === selected));
    const next = moveTo(event.key, current, tabs.length);
    const tab = next === null ? undefined : tabs[next];
    if (next === null || !tab) return;
    event.preventDefault();
    onSelect(tab.key);
    buttons.current[next]?.focus();
  };

  return (
    <div className="tabs" role="tablist" aria-labelledby={labelledBy} onKeyDown={onKeyDown}>
      {tabs.map((tab, index) => {
        const active = tab.key === selected;
        return (
          <button
            key={tab.key}
            ref={(el) => {
              buttons.current[index] = el;
            }}
            type="button"
            role="tab"
            className="tab"
            id={tabId(idPrefix, tab.key)}
            aria-selected={active}
            aria-controls={panelId(idPrefix, tab.key)}
            tabIndex={active ? 0 : -1}
            data-testid={tab.testId}
            onClick={() => onSelect(tab.key)}
          >
            {tab.label}
          </button>
        );
      })}
    </div>
  );
}

/** The panel of one tab: always in the page (the tab's `aria-controls`), its content only while
 *  its tab is selected (so what it holds, and its test ids, are only ever the shown tab's). */
export function TabPanel({
  idPrefix,
  tabKey,
  selected,
  children,
}: {
  idPrefix: string;
  tabKey: string;
  selected: string;
  children: ReactNode;
}) {
  const active = tabKey === selected;
  return (
    <div
      role="tabpanel"
      className="tab-panel"
      id={panelId(idPrefix, tabKey)}
      aria-labelledby={tabId(idPrefix, tabKey)}
      hidden={!active}
      tabIndex={0}
    >
      {active && children}
    </div>
  );
}
