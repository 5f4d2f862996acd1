from enso_ng.cli import main

main()
