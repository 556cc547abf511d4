import "elf"

rule upx_packed { meta: severity = 5 strings: $a = "UPX!" $b = "$Info: This file is packed with the UPX" condition: any of them }
rule elf_static { meta: severity = "info" condition: elf.type == elf.ET_EXEC and elf.number_of_segments < 6 }
rule shell_strings { meta: severity = 2 strings: $a = "/bin/sh -c" $b = "/dev/tcp/" $c = "nc -e " condition: 2 of them }
rule crypto_consts { meta: severity = "info" strings: $sha = { 67 E6 09 6A 85 AE 67 BB } $aes = { 63 7C 77 7B F2 6B 6F C5 } condition: any of them }
rule base64_header { meta: severity = 1 strings: $a = /-----BEGIN [A-Z ]{3,20}PRIVATE KEY-----/ condition: $a }
rule url_http { meta: severity = "info" strings: $a = /https?:\/\/[a-z0-9.-]{4,64}\.(com|org|net)/ nocase condition: #a > 50 }
rule mining_pool { meta: verdict = "malicious" strings: $a = "stratum+tcp://" $b = "xmrig" nocase condition: all of them }
rule eicar_like { meta: verdict = "malicious" strings: $a = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" condition: $a }
rule ld_preload { meta: severity = 3 strings: $a = "LD_PRELOAD" $b = "/etc/ld.so.preload" condition: all of them }
rule ptrace_use { meta: severity = "info" strings: $a = "ptrace" fullword $b = "PTRACE_ATTACH" condition: $a and $b }
rule wide_strings { meta: severity = "info" strings: $a = "Software\\Microsoft\\Windows" wide ascii nocase condition: $a }
rule gcc_banner { meta: severity = "info" strings: $a = /GCC: \(Debian [0-9.]+-[0-9]+\)/ condition: $a }
