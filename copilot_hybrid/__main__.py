from copilot_hybrid.cli import main

main()
