import "elf"

rule elf_pie : binary
{
	meta:
		verdict = "clean"
	condition:
		elf.type == elf.ET_DYN
}

rule elf_x86_64
{
	meta:
		severity = "info"
	condition:
		elf.machine == elf.EM_X86_64 and elf.number_of_sections > 20
}

rule mentions_usage
{
	meta:
		severity = 1
	strings:
		$a = "Usage:" nocase
		$b = "--help" fullword
	condition:
		all of them
}

rule glibc_234
{
	meta:
		severity = 0
	strings:
		$v = "GLIBC_2.34"
	condition:
		$v and filesize < 200KB
}
