"""``python -m eclipse.machines.modelcheck``: run the order model check and print the report."""

from eclipse.machines.modelcheck import main

raise SystemExit(main())
