from hwmap.cli import main

main()
