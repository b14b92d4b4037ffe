import { describeError } from "@/lib/api";

/** An API problem (title, detail, field errors) or any error, for a person to read. */
export default function ErrorBox({ error, testId = "form-error" }: { error: unknown; testId?: string }) {
  if (!error) return null;
  return (
    <div className="error-box" role="alert" data-testid={testId}>
      {describeError(error)}
    </div>
  );
}
