"use client";

import { useState } from "react";

async function copy(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

export default function CopyButton({ text, label = "Copy", testId }: { text: string; label?: string; testId?: string }) {
  const [done, setDone] = useState<"" | "ok" | "failed">("");
  return (
    <button
      type="button"
      className="btn btn-small"
      data-testid={testId}
      onClick={() =>
        void copy(text)
          .then(() => setDone("ok"))
          .catch(() => setDone("failed"))
          .finally(() => setTimeout(() => setDone(""), 2000))
      }
    >
      {done === "ok" ? "Copied!" : done === "failed" ? "Copy failed" : label}
    </button>
  );
}
