from vmvault.cli.app import main

main()
