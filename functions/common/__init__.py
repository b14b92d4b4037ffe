"""What every HTTP entry point shares: app assembly, problem responses, health, Lambda wiring."""
