import "./globals.css";

import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";

import NavBar from "@/components/NavBar";
import SessionStarter from "@/components/SessionStarter";

export const metadata: Metadata = {
  title: "Let's Live",
  description: "Watch and stream live, with chat.",
};

export const viewport: Viewport = { themeColor: "#0e0e10" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <SessionStarter />
        <NavBar />
        <main className="main">{children}</main>
      </body>
    </html>
  );
}
