"""One construct per domain unit; constructs own resources, stacks only compose and grant."""
