"""CUDA: buffers follow the module, and results match the CPU (run with ``pytest -m gpu``)."""

import pytest
import torch

from scrapl import JTFSLoss, SCRAPLLoss

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
TINY = dict(shape=4096, J=6, Q1=4, Q2=1, J_fr=2, Q_fr=1)


def test_scrapl_step_on_cuda_matches_cpu():
    torch.manual_seed(0)
    x = torch.randn(2, 1, TINY["shape"], requires_grad=True)
    y = torch.randn(2, 1, TINY["shape"])
    cpu = SCRAPLLoss(**TINY)
    gpu = SCRAPLLoss(**TINY).cuda()
    x_gpu = x.detach().cuda().requires_grad_()
    for p in (0, 13, cpu.n_paths - 1):
        loss_cpu = cpu(x, y, path_idx=p)
        loss_gpu = gpu(x_gpu, y.cuda(), path_idx=p)
        torch.testing.assert_close(loss_gpu.cpu(), loss_cpu, rtol=1e-4, atol=1e-8)
        (g_cpu,) = torch.autograd.grad(loss_cpu, x)
        (g_gpu,) = torch.autograd.grad(loss_gpu, x_gpu)
        torch.testing.assert_close(g_gpu.cpu(), g_cpu, rtol=1e-3, atol=1e-9)


def test_full_loss_on_cuda_matches_cpu_and_rejects_cpu_inputs():
    x, y = torch.randn(2, 1, TINY["shape"]), torch.randn(2, 1, TINY["shape"])
    cpu, gpu = JTFSLoss(**TINY), JTFSLoss(**TINY).cuda()
    torch.testing.assert_close(gpu(x.cuda(), y.cuda()).cpu(), cpu(x, y), rtol=1e-4, atol=1e-8)
    with pytest.raises(ValueError, match="x is on cpu"):
        gpu(x, y)
