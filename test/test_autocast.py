"""rt2 train's bf16 default follows the hardware: emulated bf16 made a CPU training step 16-27x slower."""

from rt2_ros.autocast import cpu_has_native_bf16

AVX2_ONLY = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse sse2 avx avx2 fma bmi2\n"
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\nCPU implementer\t: 0x41\n"


def test_only_cpus_with_bf16_instructions_count():
    assert not cpu_has_native_bf16(AVX2_ONLY)
    assert cpu_has_native_bf16(SAPPHIRE_RAPIDS)
    assert cpu_has_native_bf16(GRAVITON3)
    assert not cpu_has_native_bf16("")
    # a flag's name inside another word (e.g. the model name) is not the flag
    assert not cpu_has_native_bf16("model name\t: bf16-capable marketing name\nflags\t: avx2\n")
